"""Privacy: PII sanitizing of free text."""
