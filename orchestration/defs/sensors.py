"""Sensors: new landing files trigger load-and-build; new raw batches trigger the incremental
build (near-real-time marts); data-quality and run-failure alerts."""

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from orchestration.defs.ingest_assets import LOAD_ASSETS_NAME
from orchestration.defs.jobs import BUILD_TAGS, daily_build_job, load_and_build_job
from orchestration.defs.resources import (
    AlertingResource,
    LandingDirectory,
    MartsRefreshResource,
    WarehouseResource,
)
from warehouse import postgres
from warehouse.alerting.publish import publish
from warehouse.alerting.rules import current_alerts, job_failure_alert
from warehouse.ingest import unrecognized
from warehouse.ingest.loader import Discovery, UnrecognizedFile, discover, file_signature
from warehouse.marts_lag import marts_lag


def report_unrecognized(
    files: list[UnrecognizedFile],
    log: logging.Logger | logging.LoggerAdapter,
    alerting: AlertingResource,
) -> list[str]:
    """Record the files that are not landing files in monitoring.unrecognized_landing_files
    and raise a warning alert once per file; return a note naming them (none for none)."""
    if not files:
        return []
    signed = [(item, file_signature(item.path)) for item in files]
    # The database is needed only here, so the sensor connects itself rather than requiring
    # a resource on every evaluation.
    postgres.up()
    with postgres.connect(autocommit=True) as connection:
        publish(
            connection,
            unrecognized.alerts_for(connection, signed),
            log=log,
            webhook_url=alerting.webhook_url,
            min_severity=alerting.webhook_min_severity,
            alert_urls=alerting.channels,
        )
    names = ", ".join(item.path.name for item in files)
    count = f"{len(files)} unrecognized file" + ("" if len(files) == 1 else "s")
    return [f"{count}, not loaded: {names} (monitoring.unrecognized_landing_files)"]


@dg.sensor(
    job=load_and_build_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed files in WAREHOUSE_LANDING_DIR: load them, then build "
    "downstream. Write files under a hidden or temporary name and rename them when complete. "
    "Files that are not landing files are recorded in monitoring.unrecognized_landing_files "
    "and raise a warning alert, once per file.",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, landing_dir: LandingDirectory, alerting: AlertingResource
) -> dg.SensorResult:
    landing = landing_dir.path
    seen = json.loads(context.cursor) if context.cursor else {}
    # Hidden files (still being written) and _manifest.json are neither loaded nor reported.
    discovery = discover([landing]) if landing.is_dir() else Discovery(files=[], ignored=[])
    current = {str(item.path): file_signature(item.path) for item in discovery.files}
    notes = report_unrecognized(discovery.unrecognized, context.log, alerting)
    new = sorted(path for path, signature in current.items() if seen.get(path) != signature)
    if not new:
        return dg.SensorResult(
            skip_reason="; ".join([f"no new landing files in {landing}", *notes])
        )
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


IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def build_in_progress(instance: dg.DagsterInstance) -> str | None:
    """A note naming a queued or running dbt build (any run carrying the build tag: the
    daily build, the hourly refresh, a load-and-build, retention), or None."""
    records = instance.get_run_records(
        dg.RunsFilter(statuses=IN_PROGRESS, tags=BUILD_TAGS), limit=1
    )
    if not records:
        return None
    run = records[0].dagster_run
    return f"{run.job_name} run {run.run_id} is {run.status.value.lower()}"


@dg.sensor(
    job=daily_build_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Near-real-time marts: when raw holds load batches newer than the last "
    "build's batch horizon (rows the platform inserted, or loaded files) and that build "
    "started at least WAREHOUSE_MARTS_MAX_LAG_MINUTES ago, start the incremental build; "
    "never while a build is queued or running.",
)
def raw_batches_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    marts_refresh: MartsRefreshResource,
) -> dg.SensorResult:
    running = build_in_progress(context.instance)
    if running:
        return dg.SensorResult(skip_reason=f"a build is in progress: {running}")
    with warehouse.connect() as connection:
        try:
            lag = marts_lag(connection)
        except psycopg.errors.UndefinedTable as error:
            return dg.SensorResult(
                skip_reason=f"raw is not migrated yet ({str(error).splitlines()[0]}): run "
                "`warehouse db up` or a load"
            )
    if not lag.has_new_batches:
        return dg.SensorResult(
            skip_reason=f"no load batch newer than the last build's horizon "
            f"(batch {lag.horizon_batch_id or 0})"
        )
    max_lag = timedelta(minutes=marts_refresh.max_lag_minutes)
    now = datetime.now(UTC)
    if lag.build_started_at is not None and now - lag.build_started_at < max_lag:
        return dg.SensorResult(
            skip_reason=f"batch {lag.newest_batch_id} waits: the last build started at "
            f"{lag.build_started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, under "
            f"{marts_refresh.max_lag_minutes} minutes ago"
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"raw-batch-{lag.newest_batch_id}",
                tags={"warehouse/raw_batch": str(lag.newest_batch_id)},
            )
        ]
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
        alerts, notes = current_alerts(connection)
        new = publish(
            connection,
            alerts,
            log=context.log,
            webhook_url=alerting.webhook_url,
            min_severity=alerting.webhook_min_severity,
            alert_urls=alerting.channels,
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
            alert_urls=alerting.channels,
        )
