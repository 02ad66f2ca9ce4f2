"""The reporting API (`warehouse api`, docs/api.md)."""
