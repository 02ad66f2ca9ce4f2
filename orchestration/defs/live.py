"""The cached live summaries, refreshed every minute (warehouse/live.py, docs/live.md): a
concurrent refresh of each materialized view, recorded as a materialization of its dbt asset.
No build tag: a refresh never waits for a build, nor blocks one or a reader."""

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from warehouse.live import refresh_live_summaries

LIVE_CRON = "* * * * *"


@dg.op(description="Refresh the cached live summaries concurrently (staging.int_live_*_cache).")
def refresh_live_summaries_op(context: dg.OpExecutionContext, warehouse: WarehouseResource):
    warehouse.ensure_started()
    with warehouse.connect() as connection:
        refreshed = refresh_live_summaries(connection)
    if not refreshed:
        context.log.info("no cached live summary yet: the warehouse has not been built")
    for name in refreshed:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["staging", name]),
                description="refreshed concurrently",
            )
        )


@dg.job(name="live_summaries", description="Refresh the cached live summaries.")
def live_summaries_job():
    refresh_live_summaries_op()


live_summaries_schedule = dg.ScheduleDefinition(
    name="live_summaries_schedule",
    job=live_summaries_job,
    cron_schedule=LIVE_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The cached live summaries every minute (at most a minute old).",
)
