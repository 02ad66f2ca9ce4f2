"""Database health as a Dagster asset, every 15 minutes: one snapshot in the monitoring tables
(warehouse/health.py) and its alerts, published like every other alert (docs/operations.md)."""

import dagster as dg

from orchestration.defs.resources import AlertingResource, HealthResource, WarehouseResource
from warehouse import settings
from warehouse.alerting.publish import publish
from warehouse.alerting.rules import database_health_alerts
from warehouse.health import take_snapshot
from warehouse.ingest.migrations import apply_migrations

HEALTH_ASSET_KEY = dg.AssetKey(["monitoring", "database_health"])
HEALTH_CRON = "*/15 * * * *"


@dg.asset(
    key=HEALTH_ASSET_KEY,
    group_name="monitoring",
    kinds={"postgres"},
    description="A database health snapshot: relation sizes and growth, unused indexes, dead "
    "tuples and vacuums, connections, cache hit ratio, slow queries, disk use "
    "(monitoring.health_snapshots, health_relations, health_queries); its alerts are stored "
    "in monitoring.alerts and posted like the others.",
)
def database_health(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    health: HealthResource,
    alerting: AlertingResource,
) -> dg.MaterializeResult:
    thresholds = health.thresholds
    warehouse.ensure_started()
    # The embedded server's data directory is local: its filesystem's free space is readable.
    data_dir = settings.embedded_pgdata() if settings.uses_embedded_server() else None
    with warehouse.connect() as connection:
        apply_migrations(connection)
        snapshot = take_snapshot(
            connection, slow_query_ms=thresholds.slow_query_ms, data_dir=data_dir
        )
        new = publish(
            connection,
            database_health_alerts(connection, thresholds),
            log=context.log,
            webhook_url=alerting.webhook_url,
            min_severity=alerting.webhook_min_severity,
            alert_urls=alerting.channels,
        )
    for note in snapshot.notes:
        context.log.warning(note)
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": snapshot.snapshot_id,
            "relations": snapshot.relations,
            "slow_queries": snapshot.slow_queries,
            "new_alerts": ", ".join(alert.rule for alert in new) or "none",
        }
    )


database_health_job = dg.define_asset_job(
    "database_health",
    selection=dg.AssetSelection.assets(database_health),
    description="Record a database health snapshot and raise its alerts.",
)

database_health_schedule = dg.ScheduleDefinition(
    name="database_health_schedule",
    job=database_health_job,
    cron_schedule=HEALTH_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Database health every 15 minutes (no build tag: it never waits for a build).",
)
