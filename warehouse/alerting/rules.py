"""The alert rules (the spec's section 9.2), each a plain function of the warehouse's state.

Data-quality rules read the statuses ``monitoring.data_quality_daily`` computes, on the days of its
judged window (``is_in_judged_window``: the ``dq_threshold_days`` before the build's as_of), which
are exactly the statuses and days the data tests judge: an alert and a test never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from warehouse.health import HealthThresholds

SEVERITIES = ("info", "warning", "critical")
PRICING_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Alert:
    """One alert; (rule, subject, alert_date, severity) identifies it for de-duplication."""

    rule: str
    severity: str
    subject: str
    alert_date: date
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity must be one of {SEVERITIES}, not {self.severity!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "subject": self.subject,
            "date": self.alert_date.isoformat(),
            "message": self.message,
            "details": self.details,
        }


DATA_QUALITY_DAYS = """
select
    metric_date,
    total_tasks,
    failed_tasks,
    failed_task_percentage,
    failed_task_status,
    invalid_cost_tasks,
    invalid_cost_percentage,
    invalid_cost_status,
    negative_savings_tasks,
    timed_out_tasks,
    timed_out_trailing_average,
    timed_out_status
from monitoring.data_quality_daily
where is_in_judged_window
order by metric_date
"""


def data_quality_alerts(connection: psycopg.Connection) -> list[Alert]:
    """Alerts for the judged days of ``monitoring.data_quality_daily``."""
    alerts: list[Alert] = []
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute(DATA_QUALITY_DAYS).fetchall()
    for row in rows:
        day = row["metric_date"]
        if row["failed_task_status"] in ("warning", "critical"):
            alerts.append(
                Alert(
                    "failed_task_rate",
                    row["failed_task_status"],
                    "task_executions",
                    day,
                    f"{row['failed_task_percentage']}% of the {row['total_tasks']} tasks started "
                    f"on {day} failed ({row['failed_tasks']} tasks)",
                    {
                        "total_tasks": row["total_tasks"],
                        "failed_tasks": row["failed_tasks"],
                        "failed_task_percentage": float(row["failed_task_percentage"]),
                    },
                )
            )
        if row["invalid_cost_status"] == "critical":
            alerts.append(
                Alert(
                    "invalid_cost_values",
                    "critical",
                    "task_executions",
                    day,
                    f"{row['invalid_cost_percentage']}% of the {row['total_tasks']} tasks started "
                    f"on {day} have a null or negative cost ({row['invalid_cost_tasks']} tasks)",
                    {
                        "total_tasks": row["total_tasks"],
                        "invalid_cost_tasks": row["invalid_cost_tasks"],
                        "invalid_cost_percentage": float(row["invalid_cost_percentage"]),
                    },
                )
            )
        if row["negative_savings_tasks"] > 0:
            alerts.append(
                Alert(
                    "negative_savings",
                    "info",
                    "task_executions",
                    day,
                    f"{row['negative_savings_tasks']} tasks started on {day} cost more than "
                    "their baseline (routing was suboptimal; investigate)",
                    {"negative_savings_tasks": row["negative_savings_tasks"]},
                )
            )
        if row["timed_out_status"] == "warning":
            alerts.append(
                Alert(
                    "timed_out_spike",
                    "warning",
                    "task_executions",
                    day,
                    f"{row['timed_out_tasks']} tasks started on {day} timed out, against "
                    f"{row['timed_out_trailing_average']} a day over the week before",
                    {
                        "timed_out_tasks": row["timed_out_tasks"],
                        "trailing_average": float(row["timed_out_trailing_average"]),
                    },
                )
            )
    return alerts


def pricing_staleness_alert(
    connection: psycopg.Connection,
    *,
    now: datetime | None = None,
    max_age: timedelta = PRICING_MAX_AGE,
) -> list[Alert]:
    """A warning when nothing was loaded into raw.provider_pricing for over ``max_age``."""
    now = now or datetime.now(UTC)
    (loaded_at,) = connection.execute("select max(_loaded_at) from raw.provider_pricing").fetchone()
    if loaded_at is not None and now - loaded_at <= max_age:
        return []
    age = "never loaded" if loaded_at is None else f"last loaded {loaded_at:%Y-%m-%d %H:%M} UTC"
    alert = Alert(
        "pricing_stale",
        "warning",
        "raw.provider_pricing",
        now.date(),
        f"provider pricing is stale: {age}, over {max_age.total_seconds() / 3600:.0f} hours ago",
        {"last_loaded_at": None if loaded_at is None else loaded_at.isoformat()},
    )
    return [alert]


COST_ANOMALIES = """
select
    organization_id::text as organization_id,
    metric_date,
    total_tasks,
    total_cost_usd,
    trailing_median_cost_usd,
    anomaly_score,
    reason
from analytics.cost_anomalies
where is_anomaly and is_in_judged_window
order by metric_date, organization_id
"""


def cost_anomaly_alerts(connection: psycopg.Connection) -> list[Alert]:
    """A warning per organization and judged day that analytics.cost_anomalies marks as a cost
    spike (docs/insights.md), with its reason in words."""
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute(COST_ANOMALIES).fetchall()
    return [
        Alert(
            "cost_anomaly",
            "warning",
            row["organization_id"],
            row["metric_date"],
            f"cost spike for organization {row['organization_id']} on {row['metric_date']}: "
            f"{row['reason']}",
            {
                "total_tasks": row["total_tasks"],
                "total_cost_usd": str(row["total_cost_usd"]),
                "trailing_median_cost_usd": str(row["trailing_median_cost_usd"]),
                "anomaly_score": str(row["anomaly_score"]),
            },
        )
        for row in rows
    ]


BUDGETS_REACHED = """
select
    budget_id::text,
    organization_id::text,
    team_id::text,
    budget_scope,
    month_start,
    budget_usd,
    spent_usd,
    spent_percentage,
    forecast_spend_usd,
    forecast_percentage,
    threshold_reached,
    is_forecast_over_budget
from analytics.budget_status
where month_status = 'current' and (threshold_reached is not null or is_forecast_over_budget)
order by organization_id, team_id nulls first
"""


def _budget_severity(threshold: int) -> str:
    if threshold >= 100:
        return "critical"
    return "warning" if threshold >= 80 else "info"


def budget_alerts(connection: psycopg.Connection) -> list[Alert]:
    """For each budget of the current month (analytics.budget_status): an alert for the highest
    threshold of its spend reached (rule budget_spent_<percentage>) and one when its month-end
    forecast is over budget (budget_forecast_over). Each is dated the month's first day, so the
    alert store keeps one of each per budget and month however often the rules run."""
    alerts: list[Alert] = []
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute(BUDGETS_REACHED).fetchall()
    for row in rows:
        scope = row["budget_scope"]
        subject = f"{scope} {row['team_id'] if scope == 'team' else row['organization_id']}"
        month = row["month_start"].strftime("%Y-%m")
        details = {
            "budget_id": row["budget_id"],
            "organization_id": row["organization_id"],
            "team_id": row["team_id"],
            "budget_usd": str(row["budget_usd"]),
            "spent_usd": str(row["spent_usd"]),
            "spent_percentage": str(row["spent_percentage"]),
            "forecast_spend_usd": str(row["forecast_spend_usd"]),
        }
        threshold = row["threshold_reached"]
        if threshold is not None:
            alerts.append(
                Alert(
                    f"budget_spent_{threshold}",
                    _budget_severity(threshold),
                    subject,
                    row["month_start"],
                    f"{subject} has spent ${row['spent_usd']} of its ${row['budget_usd']} "
                    f"budget for {month} ({row['spent_percentage']} %), {threshold} % reached",
                    {**details, "threshold_percentage": threshold},
                )
            )
        if row["is_forecast_over_budget"]:
            alerts.append(
                Alert(
                    "budget_forecast_over",
                    "warning",
                    subject,
                    row["month_start"],
                    f"{subject} is forecast to spend ${row['forecast_spend_usd']} in {month}, "
                    f"{row['forecast_percentage']} % of its ${row['budget_usd']} budget",
                    details,
                )
            )
    return alerts


INVOICES_MISMATCHED = """
select
    invoice_id,
    provider,
    organization_id::text,
    invoice_scope,
    billing_period_start,
    billing_period_end,
    invoice_amount,
    warehouse_cost_usd,
    difference_usd,
    difference_percentage,
    status,
    likely_causes
from analytics.invoice_reconciliation
where status in ('over_invoiced', 'under_invoiced')
order by billing_period_start, provider, invoice_id
"""


def invoice_alerts(connection: psycopg.Connection) -> list[Alert]:
    """A warning per invoice that analytics.invoice_reconciliation finds off the warehouse's
    cost by more than the tolerance, with the likely causes it sees; dated the invoice's
    billing period start (one per invoice)."""
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute(INVOICES_MISMATCHED).fetchall()
    alerts = []
    for row in rows:
        scope = row["organization_id"] or "the platform"
        percentage = row["difference_percentage"]
        off = f"{percentage:+} %" if percentage is not None else "no warehouse cost"
        causes = row["likely_causes"] or "none the warehouse can see"
        alerts.append(
            Alert(
                "invoice_mismatch",
                "warning",
                f"{row['provider']} invoice {row['invoice_id']}",
                row["billing_period_start"].astimezone(UTC).date(),
                f"{row['provider']} invoice {row['invoice_id']} for {scope} is "
                f"${row['invoice_amount']} against the warehouse's ${row['warehouse_cost_usd']} "
                f"({row['status'].replace('_', '-')}, ${row['difference_usd']}, {off}); "
                f"likely causes: {causes}",
                {
                    "organization_id": row["organization_id"],
                    "invoice_amount": str(row["invoice_amount"]),
                    "warehouse_cost_usd": str(row["warehouse_cost_usd"]),
                    "difference_usd": str(row["difference_usd"]),
                    "status": row["status"],
                    "likely_causes": row["likely_causes"],
                },
            )
        )
    return alerts


def job_failure_alert(job_name: str, run_id: str, started_at: datetime, error: str | None) -> Alert:
    """The critical alert for a failed aggregation (or load) run."""
    return Alert(
        "job_failed",
        "critical",
        job_name,
        started_at.astimezone(UTC).date(),
        f"job {job_name} failed (run {run_id})" + (f": {error}" if error else ""),
        {"run_id": run_id},
    )


LATEST_HEALTH_SNAPSHOT = """
select
    snapshot_id,
    taken_at,
    database_name,
    connections,
    max_connections,
    connection_percentage,
    cache_hit_percentage,
    disk_total_bytes,
    disk_free_bytes
from monitoring.health_snapshots
order by snapshot_id desc
limit 1
"""

SLOW_RUNNING_QUERIES = """
select pid, query_started_at, running_ms
from monitoring.health_queries
where snapshot_id = %s and query_source = 'pg_stat_activity'
order by pid
"""

GROWN_TABLES = """
select schema_name, relation_name, previous_total_bytes, total_bytes
from monitoring.health_relations
where
    snapshot_id = %(snapshot_id)s
    and relation_kind = 'table'
    and previous_total_bytes > 0
    and total_bytes > previous_total_bytes * %(factor)s
    and total_bytes >= %(min_bytes)s
order by schema_name, relation_name
"""

MEGABYTE = 1024 * 1024


def database_health_alerts(
    connection: psycopg.Connection, thresholds: HealthThresholds
) -> list[Alert]:
    """Alerts over the newest snapshot of ``monitoring.health_snapshots`` (warehouse/health.py):
    cache hit ratio under its minimum, connections over their share of max_connections, the
    data directory's filesystem fuller than its maximum (embedded server only), queries running
    over the slow threshold, tables that grew over the growth factor."""
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        snapshot = cursor.execute(LATEST_HEALTH_SNAPSHOT).fetchone()
        if snapshot is None:
            return []
        snapshot_id = snapshot["snapshot_id"]
        slow = cursor.execute(SLOW_RUNNING_QUERIES, (snapshot_id,)).fetchall()
        grown = cursor.execute(
            GROWN_TABLES,
            {
                "snapshot_id": snapshot_id,
                "factor": thresholds.table_growth_factor,
                "min_bytes": thresholds.table_growth_min_mb * MEGABYTE,
            },
        ).fetchall()
    day = snapshot["taken_at"].astimezone(UTC).date()
    database = f"database {snapshot['database_name']}"
    alerts: list[Alert] = []
    hit = snapshot["cache_hit_percentage"]
    if hit is not None and hit < thresholds.cache_hit_min_percent:
        alerts.append(
            Alert(
                "cache_hit_ratio_low",
                "warning",
                database,
                day,
                f"buffer cache hit ratio is {hit}%, under {thresholds.cache_hit_min_percent:g}%",
                {
                    "cache_hit_percentage": float(hit),
                    "minimum_percentage": thresholds.cache_hit_min_percent,
                    "snapshot_id": snapshot_id,
                },
            )
        )
    used = snapshot["connection_percentage"]
    if used > thresholds.connections_max_percent:
        alerts.append(
            Alert(
                "connections_high",
                "warning",
                database,
                day,
                f"{snapshot['connections']} of {snapshot['max_connections']} connections in use "
                f"({used}%), over {thresholds.connections_max_percent:g}%",
                {
                    "connections": snapshot["connections"],
                    "max_connections": snapshot["max_connections"],
                    "connection_percentage": float(used),
                    "snapshot_id": snapshot_id,
                },
            )
        )
    total, free = snapshot["disk_total_bytes"], snapshot["disk_free_bytes"]
    disk_used = round(100 * (total - free) / total, 2) if total else None
    if disk_used is not None and disk_used > thresholds.disk_max_percent:
        alerts.append(
            Alert(
                "disk_usage_high",
                "warning",
                "data directory filesystem",
                day,
                f"the data directory's filesystem is {disk_used}% full ({free} bytes free), over "
                f"{thresholds.disk_max_percent:g}%",
                {
                    "disk_total_bytes": total,
                    "disk_free_bytes": free,
                    "disk_used_percentage": disk_used,
                    "snapshot_id": snapshot_id,
                },
            )
        )
    for query in slow:
        started = query["query_started_at"].astimezone(UTC)
        alerts.append(
            Alert(
                "slow_query",
                "warning",
                f"backend {query['pid']} since {started.isoformat()}",
                day,
                f"a query of backend {query['pid']} has run for {query['running_ms']} ms, over "
                f"{thresholds.slow_query_ms} ms (monitoring.health_queries, snapshot "
                f"{snapshot_id})",
                {
                    "pid": query["pid"],
                    "running_ms": float(query["running_ms"]),
                    "slow_query_ms": thresholds.slow_query_ms,
                    "snapshot_id": snapshot_id,
                },
            )
        )
    for table in grown:
        name = f"{table['schema_name']}.{table['relation_name']}"
        alerts.append(
            Alert(
                "table_growth",
                "warning",
                name,
                day,
                f"{name} grew from {table['previous_total_bytes']} to {table['total_bytes']} "
                f"bytes since the previous snapshot, over {thresholds.table_growth_factor:g}x",
                {
                    "previous_total_bytes": table["previous_total_bytes"],
                    "total_bytes": table["total_bytes"],
                    "growth_factor": thresholds.table_growth_factor,
                    "snapshot_id": snapshot_id,
                },
            )
        )
    return alerts


def current_alerts(connection: psycopg.Connection) -> tuple[list[Alert], list[str]]:
    """Every rule over the warehouse's present state: the alerts, and a note per rule that
    could not run because its monitoring model is missing or outdated (not built yet, or built
    by an older version: the next build fixes it)."""
    rules = {
        "data quality": lambda: data_quality_alerts(connection),
        "pricing staleness": lambda: pricing_staleness_alert(connection),
        "cost anomalies": lambda: cost_anomaly_alerts(connection),
        "budgets": lambda: budget_alerts(connection),
        "invoices": lambda: invoice_alerts(connection),
    }
    alerts: list[Alert] = []
    notes: list[str] = []
    for name, rule in rules.items():
        try:
            alerts += rule()
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as error:
            notes.append(f"{name} skipped: {str(error).splitlines()[0]}")
    return alerts, notes
