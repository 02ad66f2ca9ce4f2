"""Deterministic, realistic synthetic landing files for demos and tests."""
