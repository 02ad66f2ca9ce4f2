"""``make demo``: a realistic warehouse from nothing, with progress and a short summary."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import psycopg

from warehouse import postgres, settings
from warehouse.dbt import run_dbt
from warehouse.ingest.contract import TABLES
from warehouse.ingest.migrations import apply_migrations
from warehouse.tables import format_table

T = TypeVar("T")
# The Dagster code location's module that runs the demo's load_and_build job.
DAGSTER_DEMO_MODULE = "orchestration.demo_run"


def demo_landing_dir() -> Path:
    return settings.warehouse_home() / "demo" / "landing"


def _step(number: int, total: int, title: str, action: Callable[[], T]) -> T:
    print(f"[{number}/{total}] {title} ...", flush=True)
    started = time.perf_counter()
    result = action()
    print(f"      done in {time.perf_counter() - started:.1f}s", flush=True)
    return result


def remove_demo_batches(connection: psycopg.Connection, landing: Path) -> int:
    """Delete what earlier demo runs loaded from ``landing`` (and only that), for a clean rerun."""
    with connection.transaction():
        batches = [
            row[0]
            for row in connection.execute(
                "select batch_id from raw.load_batches where source_file like %s",
                (f"{landing}/%",),
            )
        ]
        if not batches:
            return 0
        for table in [*TABLES, "rejected_rows", "redaction_counts"]:
            column = "batch_id" if table in ("rejected_rows", "redaction_counts") else "_batch_id"
            connection.execute(
                f"delete from raw.{table} where {column} = any(%s)",
                (batches,),
            )
        connection.execute("delete from raw.load_batches where batch_id = any(%s)", (batches,))
    return len(batches)


def run_demo(*, orgs: int, days: int, seed: int) -> int:
    from warehouse.synthetic.generator import GeneratorConfig, generate

    total = 7
    as_of = datetime.now(UTC).replace(microsecond=0)
    landing = demo_landing_dir()
    conn = _step(1, total, "starting the database", postgres.up)
    print(f"      {conn.describe()}")

    config = GeneratorConfig(orgs=orgs, days=days, seed=seed, end_date=as_of.date(), until=as_of)
    for old in landing.glob("*"):
        old.unlink()
    landing.mkdir(parents=True, exist_ok=True)
    _step(
        2,
        total,
        f"generating {orgs} organizations x {days} days into {landing}",
        lambda: generate(landing, config),
    )
    _step(3, total, "preparing: migrations, previous demo removed, dbt manifest", _prepare)

    def load_and_build() -> bool:
        # The Dagster code location imports this package, never the reverse: the job runs
        # in its own process, as `dagster job execute` would run it.
        command = [
            sys.executable,
            "-m",
            DAGSTER_DEMO_MODULE,
            "--landing",
            str(landing),
            "--as-of",
            as_of.isoformat(),
            "--log",
            str(landing.parent / "dagster-run.log"),
        ]
        return subprocess.run(command, check=False).returncode == 0

    succeeded = _step(
        4,
        total,
        f"Dagster job load_and_build: load the files, dbt build (as_of {as_of.isoformat()})",
        load_and_build,
    )
    with postgres.connect() as connection:
        _print_load_summary(connection, landing)
    if not succeeded:
        print("error: the load_and_build run failed (see above)", file=sys.stderr)
        return 1
    _step(5, total, "summarizing", lambda: _print_warehouse_summary(as_of))
    _step(6, total, "raising alerts", _raise_alerts)
    report = _step(7, total, "writing an executive report", lambda: _write_report(as_of))
    _print_next_steps()
    if report:
        print(f"Executive report: {report}   (open it in a browser; works offline)")
    return 0


def _prepare() -> None:
    landing = demo_landing_dir()
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        if remove_demo_batches(connection, landing):
            # The previous demo's data is gone from raw; what dbt built from it (incremental
            # staging and rollups, never fully refreshed by design) must go too, so the demo
            # starts clean. The monitoring tables the warehouse's own code writes stay.
            drop_dbt_relations(connection)
    run_dbt(["--quiet", "parse", "--target-path", str(settings.project_dir() / "target")])


# Tables of schema monitoring that migrations and the warehouse's code create and write, not dbt.
CODE_OWNED_MONITORING_TABLES = (
    "alerts",
    "unrecognized_landing_files",
    "health_snapshots",
    "health_relations",
    "health_queries",
)


def drop_dbt_relations(connection: psycopg.Connection) -> None:
    """Drop what dbt builds: schemas staging, analytics and support, and the relations of
    monitoring but those in CODE_OWNED_MONITORING_TABLES."""
    for schema in ("analytics", "staging", "support"):
        connection.execute(f"drop schema if exists {schema} cascade")
    relations = connection.execute(
        """
        select relname, case relkind when 'v' then 'view' when 'm' then 'materialized view'
            else 'table' end
        from pg_catalog.pg_class
        where relnamespace = 'monitoring'::regnamespace and relkind in ('r', 'p', 'v', 'm')
            and relname <> all(%s)
        """,
        (list(CODE_OWNED_MONITORING_TABLES),),
    ).fetchall()
    for name, kind in relations:
        connection.execute(f'drop {kind} if exists monitoring."{name}" cascade')


def _raise_alerts() -> None:
    from warehouse.alerting.channels import parse_urls
    from warehouse.alerting.publish import publish
    from warehouse.alerting.rules import current_alerts

    log = logging.getLogger("warehouse.alerts")
    with postgres.connect(autocommit=True) as connection:
        alerts, notes = current_alerts(connection)
        delivery = settings.alert_delivery()
        publish(
            connection,
            alerts,
            log=log,
            webhook_url=delivery.webhook_url,
            min_severity=delivery.min_severity,
            alert_urls=parse_urls(delivery.alert_urls),
        )
        for note in notes:
            print(f"      {note}")
        rows = connection.execute(
            "select severity, rule, alert_date, message from monitoring.alerts "
            "order by alert_date, rule"
        ).fetchall()
    print(f"      {len(rows)} alerts in monitoring.alerts (data of the last 7 days):")
    for severity, rule, alert_date, message in rows:
        print(f"      {severity:<8} {rule:<18} {alert_date}  {message}")


INDENT = "      "


def _print_load_summary(connection: psycopg.Connection, landing: Path) -> None:
    rows = connection.execute(
        """
        select
            table_name, count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected),
            count(*) filter (where status = 'failed')
        from raw.load_batches
        where source_file like %s
        group by table_name
        order by min(batch_id)
        """,
        (f"{landing}/%",),
    ).fetchall()
    print(
        format_table(
            ("table", "files", "rows read", "loaded", "rejected", "failed files"),
            [
                (table, files, f"{read:,}", f"{loaded:,}", f"{rejected:,}", failed or "")
                for table, files, read, loaded, rejected, failed in rows
            ],
            right=("files", "rows read", "loaded", "rejected", "failed files"),
            indent=INDENT,
        )
    )


# What the warehouse holds, from the marts and monitoring models (raw only for raw versions).
COUNTS = {
    "organizations": "select count(*) from analytics.organizations",
    "users": "select count(*) from analytics.users",
    "tasks in the marts": "select count(*) from analytics.task_executions",
    "tasks quarantined": "select count(*) from monitoring.quarantined_task_executions",
    "raw task versions": "select count(*) from raw.task_executions",
    "routing decisions": "select count(*) from analytics.routing_decisions",
    "pricing rows": "select count(*) from analytics.provider_pricing",
    "rejected rows": "select coalesce(sum(rows_rejected), 0) from monitoring.data_quality_daily",
}

TASK_STATUSES = """
select status, count(*) from analytics.task_executions
group by status
order by count(*) desc, status
"""

TASK_DATES = "select min(start_date), max(start_date) from analytics.task_executions"

# The dashboard models, as BI tools read them: the summary re-derives nothing.
ORGANIZATION_MONTH = """
select
    organization_name,
    total_tasks,
    completed_tasks,
    total_cost_usd,
    total_baseline_cost_usd,
    total_savings_usd,
    savings_percentage,
    baseline_provider
from analytics.organization_cost_dashboard
where month_start = %(month)s
order by total_savings_usd desc, organization_name
"""

PROVIDER_MONTH = """
select
    task_type,
    provider,
    total_tasks,
    success_rate,
    avg_cost_usd,
    median_duration_ms,
    avg_quality_score
from analytics.provider_comparison_monthly
where month_start = %(month)s
order by task_type, avg_cost_usd nulls last, provider
"""

ROI_MONTH = """
select
    organizations.name,
    roi.total_developers,
    roi.platform_fee_usd,
    roi.total_savings_usd,
    roi.net_benefit_usd,
    roi.roi_percentage,
    roi.payback_month
from analytics.roi_summary as roi
inner join analytics.organizations on roi.organization_id = organizations.id
where roi.month_start = %(month)s
order by roi.net_benefit_usd desc, organizations.name
"""


def _money(value: Decimal | None, places: int = 2) -> str | None:
    if value is None:
        return None
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{places}f}"


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else f"{value}%"


def _seconds(milliseconds: Decimal | int | None) -> str | None:
    return None if milliseconds is None else f"{milliseconds / 1000:,.0f} s"


def print_summary(connection: psycopg.Connection, month: date) -> None:
    """What the warehouse holds, then ``month`` per organization and per provider and task
    type, read from the dashboard models."""
    counts = [(label, connection.execute(query).fetchone()[0]) for label, query in COUNTS.items()]
    print()
    print(
        format_table(
            ("in the warehouse", "count"),
            [(label, f"{value:,}") for label, value in counts],
            right=("count",),
            indent=INDENT,
        )
    )
    statuses = connection.execute(TASK_STATUSES).fetchall()
    print(f"{INDENT}tasks by status: " + ", ".join(f"{s} {n:,}" for s, n in statuses))
    first, last = connection.execute(TASK_DATES).fetchone()
    print(f"{INDENT}task start dates: {first} to {last} (UTC)")

    title = month.strftime("%B %Y")
    rows = connection.execute(ORGANIZATION_MONTH, {"month": month}).fetchall()
    print(f"\n{INDENT}{title} by organization (analytics.organization_cost_dashboard; "
          "completed tasks' cost):")  # fmt: skip
    print(
        format_table(
            ("organization", "tasks", "completed", "cost", "baseline", "savings", "savings %",
             "baseline is"),
            [(name, f"{tasks:,}", f"{completed:,}", _money(cost), _money(baseline),
              _money(savings), _percent(percent), baseline_provider)
             for name, tasks, completed, cost, baseline, savings, percent, baseline_provider
             in rows],
            right=("tasks", "completed", "cost", "baseline", "savings", "savings %"),
            indent=INDENT,
        )
    )  # fmt: skip
    rows = connection.execute(PROVIDER_MONTH, {"month": month}).fetchall()
    print(f"\n{INDENT}{title} by task type and provider "
          "(analytics.provider_comparison_monthly):")  # fmt: skip
    print(
        format_table(
            ("task type", "provider", "tasks", "success %", "avg cost", "median duration",
             "avg quality"),
            [(task_type, provider, f"{tasks:,}", _percent(rate), _money(cost, 4),
              _seconds(median), quality)
             for task_type, provider, tasks, rate, cost, median, quality in rows],
            right=("tasks", "success %", "avg cost", "median duration", "avg quality"),
            indent=INDENT,
        )
    )  # fmt: skip
    rows = connection.execute(ROI_MONTH, {"month": month}).fetchall()
    print(f"\n{INDENT}{title} return on the platform fee (analytics.roi_summary):")
    print(
        format_table(
            ("organization", "developers", "platform fee", "savings", "net benefit", "ROI %",
             "paid back in"),
            [(name, f"{developers:,}", _money(fee), _money(savings), _money(net),
              _percent(roi), payback.strftime("%B %Y") if payback else "not yet")
             for name, developers, fee, savings, net, roi, payback in rows],
            right=("developers", "platform fee", "savings", "net benefit", "ROI %"),
            indent=INDENT,
        )
    )  # fmt: skip


FORECASTS = """
select
    organizations.name,
    forecast.forecast_cost_usd,
    forecast.forecast_cost_low_usd,
    forecast.forecast_cost_high_usd,
    forecast.forecast_savings_usd,
    forecast.forecast_savings_low_usd,
    forecast.forecast_savings_high_usd
from analytics.savings_forecast as forecast
inner join analytics.organizations on forecast.organization_id = organizations.id
order by forecast.forecast_savings_usd desc, organizations.name
"""

ANOMALIES = """
select organizations.name, anomalies.metric_date, anomalies.reason
from analytics.cost_anomalies as anomalies
inner join analytics.organizations on anomalies.organization_id = organizations.id
where anomalies.is_anomaly
order by anomalies.metric_date desc, organizations.name
limit 5
"""

RECOMMENDATIONS = """
select organizations.name, recommendations.reason
from analytics.routing_recommendations as recommendations
inner join analytics.organizations on recommendations.organization_id = organizations.id
where recommendations.rank = 1
order by recommendations.estimated_monthly_savings_usd desc, organizations.name
limit 5
"""

BUDGETS = """
select
    organizations.name,
    teams.name,
    budgets.budget_usd,
    budgets.spent_usd,
    budgets.spent_percentage,
    budgets.forecast_spend_usd,
    budgets.forecast_percentage
from analytics.budget_status as budgets
inner join analytics.organizations on budgets.organization_id = organizations.id
left join analytics.teams on budgets.team_id = teams.id
where budgets.month_status = 'current'
order by organizations.name, teams.name nulls first
"""

INVOICES = """
select invoice_id, billing_period_start, invoice_amount, warehouse_cost_usd, status,
    likely_causes
from analytics.invoice_reconciliation
order by billing_period_start desc, invoice_id
limit 6
"""


def print_insights(connection: psycopg.Connection) -> None:
    """The month-end forecast per organization, the latest cost anomalies and the best routing
    recommendations (docs/insights.md)."""
    rows = connection.execute(FORECASTS).fetchall()
    print(f"\n{INDENT}Month-end forecast, 95 % interval (analytics.savings_forecast):")
    print(
        format_table(
            ("organization", "cost", "cost interval", "savings", "savings interval"),
            [(name, _money(cost), f"{_money(cost_low)} to {_money(cost_high)}",
              _money(savings), f"{_money(savings_low)} to {_money(savings_high)}")
             for name, cost, cost_low, cost_high, savings, savings_low, savings_high in rows],
            right=("cost", "savings"),
            indent=INDENT,
        )
    )  # fmt: skip
    anomalies = connection.execute(ANOMALIES).fetchall()
    print(f"\n{INDENT}Cost anomalies (analytics.cost_anomalies), latest first: "
          f"{'none' if not anomalies else len(anomalies)}")  # fmt: skip
    for name, day, reason in anomalies:
        print(f"{INDENT}  {name}, {day}: {reason}")
    recommendations = connection.execute(RECOMMENDATIONS).fetchall()
    print(f"\n{INDENT}Routing recommendations (analytics.routing_recommendations), best first: "
          f"{'none' if not recommendations else len(recommendations)}")  # fmt: skip
    for name, reason in recommendations:
        print(f"{INDENT}  {name}: {reason}")
    print_billing(connection)


def print_billing(connection: psycopg.Connection) -> None:
    """This month's budgets (spent and forecast) and the latest invoices' reconciliation."""
    budgets = connection.execute(BUDGETS).fetchall()
    print(f"\n{INDENT}Budgets this month (analytics.budget_status): "
          f"{'none' if not budgets else len(budgets)}")  # fmt: skip
    if budgets:
        print(
            format_table(
                ("organization", "team", "budget", "spent", "spent %", "forecast", "forecast %"),
                [(name, team or "(all)", _money(budget), _money(spent), _percent(spent_share),
                  _money(forecast), _percent(forecast_share))
                 for name, team, budget, spent, spent_share, forecast, forecast_share in budgets],
                right=("budget", "spent", "spent %", "forecast", "forecast %"),
                indent=INDENT,
            )
        )  # fmt: skip
    invoices = connection.execute(INVOICES).fetchall()
    print(f"\n{INDENT}Provider invoices against the warehouse (analytics.invoice_reconciliation): "
          f"{'none' if not invoices else len(invoices)}")  # fmt: skip
    if invoices:
        print(
            format_table(
                ("invoice", "month", "invoiced", "warehouse", "status"),
                [(invoice, start.strftime("%Y-%m"), _money(amount), _money(cost),
                  status.replace("_", "-"))
                 for invoice, start, amount, cost, status, _ in invoices],
                right=("invoiced", "warehouse"),
                indent=INDENT,
            )
        )  # fmt: skip
        for invoice, _, _, _, _, causes in invoices:
            if causes:
                print(f"{INDENT}  {invoice}: likely causes: {causes}")


def _print_warehouse_summary(as_of: datetime) -> None:
    with postgres.connect() as connection:
        print_summary(connection, as_of.date().replace(day=1))
        print_insights(connection)


TOP_ORGANIZATION = """
select organization_id, organizations.name
from analytics.organization_analytics as monthly
inner join analytics.organizations on monthly.organization_id = organizations.id
where monthly.aggregation_period = 'monthly' and monthly.metric_date = %s
order by monthly.total_savings_usd desc, organizations.name
limit 1
"""


def _write_report(as_of: datetime) -> Path | None:
    """The executive report of this month's organization with the most savings, under
    $WAREHOUSE_HOME/reports (docs/reports.md)."""
    from warehouse.report import write_report

    month = as_of.date().replace(day=1)
    with postgres.connect() as connection:
        row = connection.execute(TOP_ORGANIZATION, (month,)).fetchone()
        if row is None:
            return None
        organization_id, name = row
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = settings.warehouse_home() / "reports" / f"{slug}-{month:%Y-%m}.html"
        return write_report(connection, organization_id, month, path)


def _print_next_steps() -> None:
    print(
        """
Next:
  make dashboard                      # the dashboard at http://127.0.0.1:8501 (pick a viewer)
  make dagster                        # the UI at http://127.0.0.1:3000: lineage, checks, runs
  eval "$(.venv/bin/warehouse env)"   # psql, dbt and dagster now reach this warehouse
  .venv/bin/dbt build                 # rebuild (run from the project root)
  .venv/bin/dbt docs generate && .venv/bin/dbt docs serve   # model and column docs
  .venv/bin/mf query --saved-query organization_monthly_dashboard   # metrics by name (MetricFlow)
"""
    )
