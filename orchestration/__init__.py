"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources that wire
the ``warehouse`` package into Dagster. Imports run one way: orchestration -> warehouse."""
