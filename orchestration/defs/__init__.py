"""Dagster definitions, split by concern; ``orchestration/definitions.py`` assembles them."""
