"""Sensors: new landing files trigger load-and-build; data-quality and run-failure alerts."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.defs.ingest_assets import LOAD_ASSETS_NAME
from orchestration.defs.jobs import load_and_build_job
from orchestration.defs.resources import AlertingResource, LandingDirectory, WarehouseResource
from warehouse.alerting.publish import publish
from warehouse.alerting.rules import current_alerts, job_failure_alert
from warehouse.ingest.loader import discover


def landing_signatures(landing: Path) -> dict[str, str]:
    """Every landing file under ``landing`` with its size and modification time."""
    if not landing.is_dir():
        return {}
    signatures = {}
    for item in discover([landing]).files:
        stat = item.path.stat()
        signatures[str(item.path)] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return signatures


@dg.sensor(
    job=load_and_build_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed files in WAREHOUSE_LANDING_DIR: load them, then build "
    "downstream. Write files under a hidden or temporary name and rename them when complete.",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, landing_dir: LandingDirectory
) -> dg.SensorResult:
    landing = landing_dir.path
    seen = json.loads(context.cursor) if context.cursor else {}
    current = landing_signatures(landing)
    new = sorted(path for path, signature in current.items() if seen.get(path) != signature)
    if not new:
        return dg.SensorResult(skip_reason=f"no new landing files in {landing}")
    run_key = hashlib.sha256(
        json.dumps({path: current[path] for path in new}).encode("utf-8")
    ).hexdigest()[:32]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                run_config={"ops": {LOAD_ASSETS_NAME: {"config": {"files": new}}}},
                tags={"warehouse/landing_files": str(len(new))},
            )
        ],
        cursor=json.dumps(current, sort_keys=True),
    )


@dg.sensor(
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts from monitoring.data_quality_daily (failed-task rate, invalid cost, "
    "negative savings, timed-out spikes) and pricing staleness, once per subject and day.",
)
def data_quality_alert_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, alerting: AlertingResource
) -> dg.SkipReason:
    with warehouse.connect() as connection:
        alerts, notes = current_alerts(connection, lookback_days=alerting.lookback_days)
        new = publish(
            connection,
            alerts,
            log=context.log,
            webhook_url=alerting.webhook_url,
            min_severity=alerting.webhook_min_severity,
        )
    rules = ", ".join(alert.rule for alert in new)
    summary = f"{len(new)} new alerts: {rules}" if new else "no new alerts"
    return dg.SkipReason("; ".join([summary, *notes]))


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed job (the daily build, the hourly refresh, a load) is a critical alert.",
)
def job_failure_alert_sensor(
    context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alerting: AlertingResource
) -> None:
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record and record.start_time else None
    started_at = datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)
    alert = job_failure_alert(run.job_name, run.run_id, started_at, context.failure_event.message)
    with warehouse.connect() as connection:
        publish(
            connection,
            [alert],
            log=context.log,
            webhook_url=alerting.webhook_url,
            min_severity=alerting.webhook_min_severity,
        )
