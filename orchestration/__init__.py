"""Generic Corp analytics warehouse: CLI, embedded PostgreSQL, loader, generator, Dagster code."""
