"""The monthly executive reports: one self-contained HTML page per organization and month
(warehouse/report.py) under WAREHOUSE_REPORTS_DIR, and each organization's digest, its report
attached, sent to the ALERT_URLS channels (warehouse/digest.py; docs/reports.md). Partitioned
by month; the schedule runs on the 1st at 03:00 UTC for the month that just ended, after the
daily build."""

from datetime import date

import dagster as dg

from orchestration.defs.resources import AlertingResource, WarehouseResource
from warehouse import settings
from warehouse.digest import write_reports_and_send

REPORTS_ASSET_KEY = dg.AssetKey(["reports", "executive_reports"])
MONTHS = dg.MonthlyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")
# The marts a report reads (warehouse/report.py): its lineage in the Dagster UI.
REPORT_SOURCES = (
    "organization_analytics", "user_analytics", "organizations", "teams", "users",
    "roi_summary", "savings_forecast", "cost_anomalies", "routing_recommendations",
    "budget_status",
)  # fmt: skip


@dg.asset(
    key=REPORTS_ASSET_KEY,
    group_name="reports",
    partitions_def=MONTHS,
    kinds={"html"},
    deps=[dg.AssetKey(["analytics", name]) for name in REPORT_SOURCES],
    description="Each organization's executive report for the month (a self-contained HTML "
    "page under WAREHOUSE_REPORTS_DIR), and its monthly digest with the report attached, sent "
    "once to each ALERT_URLS channel (monitoring.digest_deliveries).",
)
def executive_reports(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> dg.MaterializeResult:
    month = date.fromisoformat(context.partition_key)
    warehouse.ensure_started()
    with warehouse.connect() as connection:
        run = write_reports_and_send(connection, month, settings.reports_dir(), alerting.channels)
    for failure in run.failed:
        context.log.warning(f"digest of {failure} not accepted; the next run tries again")
    return dg.MaterializeResult(
        metadata={
            "reports": len(run.reports),
            "directory": dg.MetadataValue.path(str(settings.reports_dir() / f"{month:%Y-%m}")),
            "digests_sent": run.sent,
            "digests_already_sent": run.already_sent,
            "digests_failed": len(run.failed),
        }
    )


monthly_reports_job = dg.define_asset_job(
    "monthly_reports",
    selection=dg.AssetSelection.assets(executive_reports),
    description="Write the month's executive reports and send the monthly digests.",
)

monthly_reports_schedule = dg.build_schedule_from_partitioned_job(
    monthly_reports_job,
    hour_of_day=3,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="On the 1st at 03:00 UTC: the month that just ended.",
)
