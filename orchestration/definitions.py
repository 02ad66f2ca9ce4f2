"""The Dagster code location, named in ``[tool.dagster]`` of pyproject.toml: plain ``dagster dev``
or ``dagster definitions validate`` from the project root load it (``make dagster`` too)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt_assets import dbt_warehouse, raw_source_freshness
from orchestration.defs.health import (
    database_health,
    database_health_job,
    database_health_schedule,
)
from orchestration.defs.ingest_assets import load_landing_files
from orchestration.defs.jobs import daily_build_job, hourly_status_job, load_and_build_job
from orchestration.defs.live import live_summaries_job, live_summaries_schedule
from orchestration.defs.reports import (
    executive_reports,
    monthly_reports_job,
    monthly_reports_schedule,
)
from orchestration.defs.resources import resources
from orchestration.defs.retention import retention_job
from orchestration.defs.schedules import (
    daily_build_schedule,
    hourly_status_schedule,
    retention_schedule,
)
from orchestration.defs.sensors import (
    data_quality_alert_sensor,
    job_failure_alert_sensor,
    landing_files_sensor,
    raw_batches_sensor,
)

defs = dg.Definitions(
    assets=[load_landing_files, dbt_warehouse, database_health, executive_reports],
    asset_checks=[raw_source_freshness],
    jobs=[
        load_and_build_job,
        daily_build_job,
        hourly_status_job,
        retention_job,
        database_health_job,
        live_summaries_job,
        monthly_reports_job,
    ],
    schedules=[
        daily_build_schedule,
        hourly_status_schedule,
        retention_schedule,
        database_health_schedule,
        live_summaries_schedule,
        monthly_reports_schedule,
    ],
    sensors=[
        landing_files_sensor,
        raw_batches_sensor,
        data_quality_alert_sensor,
        job_failure_alert_sensor,
    ],
    resources=resources(),
)
