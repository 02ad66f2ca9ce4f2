"""Generic Corp analytics warehouse, usable without Dagster: the ``warehouse`` CLI, the embedded
PostgreSQL and settings, the loader, the sanitizer, the synthetic generator, the demo, alert
rules and delivery, and the dbt runner. The Dagster code location (``orchestration``) imports
this package; this package never imports it."""
