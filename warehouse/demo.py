"""``make demo``: a realistic warehouse from nothing, with progress and a short summary."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg

from warehouse import postgres, settings
from warehouse.dbt import run_dbt
from warehouse.ingest.contract import TABLES
from warehouse.ingest.migrations import apply_migrations

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
        for table in [*TABLES, "rejected_rows"]:
            column = "batch_id" if table == "rejected_rows" else "_batch_id"
            connection.execute(
                f"delete from raw.{table} where {column} = any(%s)",
                (batches,),
            )
        connection.execute("delete from raw.load_batches where batch_id = any(%s)", (batches,))
    return len(batches)


def run_demo(*, orgs: int, days: int, seed: int) -> int:
    from warehouse.synthetic.generator import GeneratorConfig, generate

    total = 6
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
    _print_next_steps()
    return 0


def _prepare() -> None:
    landing = demo_landing_dir()
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        if remove_demo_batches(connection, landing):
            # The previous demo's data is gone from raw; its incremental rollups (never
            # fully refreshed, by design) must go too, so the demo starts clean.
            connection.execute("drop schema if exists analytics cascade")
            connection.execute("drop schema if exists monitoring cascade")
    run_dbt(["--quiet", "parse", "--target-path", str(settings.project_dir() / "target")])


def _raise_alerts() -> None:
    from warehouse.alerting.publish import publish
    from warehouse.alerting.rules import current_alerts

    log = logging.getLogger("warehouse.alerts")
    with postgres.connect(autocommit=True) as connection:
        alerts, notes = current_alerts(connection)
        publish(connection, alerts, log=log)
        for note in notes:
            print(f"      {note}")
        rows = connection.execute(
            "select severity, rule, alert_date, message from monitoring.alerts "
            "order by alert_date, rule"
        ).fetchall()
    print(f"      {len(rows)} alerts in monitoring.alerts (data of the last 7 days):")
    for severity, rule, alert_date, message in rows:
        print(f"      {severity:<8} {rule:<18} {alert_date}  {message}")


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
    print(f"      {'table':<20} {'files':>5} {'rows read':>10} {'loaded':>10} {'rejected':>9}")
    for table, files, read, loaded, rejected, failed in rows:
        note = f"  ({failed} files failed)" if failed else ""
        print(f"      {table:<20} {files:>5} {read:>10,} {loaded:>10,} {rejected:>9,}{note}")


SUMMARY_QUERIES = {
    "organizations": "select count(*) from staging.stg_platform__organizations",
    "users": "select count(*) from staging.stg_platform__users",
    "tasks (distinct)": "select count(*) from staging.stg_platform__task_executions",
    "raw task versions": "select count(*) from raw.task_executions",
    "routing decisions": "select count(*) from staging.stg_platform__routing_decisions",
    "pricing rows": "select count(*) from staging.stg_platform__provider_pricing",
    "rejected rows": "select count(*) from raw.rejected_rows",
}


ORGANIZATION_MONTH = """
select
    organizations.name,
    analytics.total_tasks,
    analytics.total_cost_usd,
    analytics.total_baseline_cost_usd,
    analytics.total_savings_usd,
    analytics.savings_percentage,
    organizations.baseline_provider
from analytics.organization_analytics as analytics
inner join analytics.organizations as organizations
    on analytics.organization_id = organizations.id
where analytics.aggregation_period = 'monthly'
    and analytics.metric_date = date_trunc('month', %(as_of)s at time zone 'utc')::date
order by analytics.total_savings_usd desc
"""

PROVIDER_MONTH = """
select task_type, provider, total_tasks, success_rate, avg_cost_usd, median_duration_ms
from analytics.provider_performance_metrics
where aggregation_period = 'monthly'
    and metric_date = date_trunc('month', %(as_of)s at time zone 'utc')::date
order by task_type, avg_cost_usd
"""


def _money(value: object) -> str:
    if value is None:
        return "-"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n      {title}")
    for row in [header, *rows]:
        cells = [str(cell).rjust(width) if index else str(cell).ljust(width)
                 for index, (cell, width) in enumerate(zip(row, widths, strict=True))]  # fmt: skip
        print("      " + "  ".join(cells))


def _print_business_summary(connection: psycopg.Connection, as_of: datetime) -> None:
    month = as_of.strftime("%B %Y")
    rows = connection.execute(ORGANIZATION_MONTH, {"as_of": as_of}).fetchall()
    _print_table(
        f"{month}, per organization (completed tasks; savings = baseline - cost):",
        ("organization", "tasks", "cost", "baseline", "savings", "savings %", "baseline is"),
        [(name, f"{tasks:,}", _money(cost), _money(baseline), _money(savings),
          "-" if percent is None else f"{percent}%", baseline_provider)
         for name, tasks, cost, baseline, savings, percent, baseline_provider in rows],
    )  # fmt: skip
    rows = connection.execute(PROVIDER_MONTH, {"as_of": as_of}).fetchall()
    _print_table(
        f"{month}, providers by task type (finished tasks):",
        ("task type", "provider", "tasks", "success %", "avg cost", "median duration"),
        [(task_type, provider, f"{tasks:,}", f"{rate}%", f"${cost:.4f}",
          f"{median / 1000:.0f} s" if median is not None else "-")
         for task_type, provider, tasks, rate, cost, median in rows],
    )  # fmt: skip


def _print_warehouse_summary(as_of: datetime) -> None:
    with postgres.connect() as connection:
        print()
        for label, query in SUMMARY_QUERIES.items():
            value = connection.execute(query).fetchone()[0]
            print(f"      {label:<34} {value:>10,}")
        rows = connection.execute(
            """
            select status, count(*) from staging.stg_platform__task_executions
            group by status order by count(*) desc
            """
        ).fetchall()
        print("      tasks by newest status: " + ", ".join(f"{s} {n:,}" for s, n in rows))
        first, last = connection.execute(
            """
            select
                min(started_at at time zone 'utc')::date,
                max(started_at at time zone 'utc')::date
            from staging.stg_platform__task_executions
            """
        ).fetchone()
        print(f"      task start dates: {first} to {last} (UTC)")
        _print_business_summary(connection, as_of)


def _print_next_steps() -> None:
    print(
        """
Next:
  make dagster                        # the UI at http://127.0.0.1:3000: lineage, checks, runs
  eval "$(.venv/bin/warehouse env)"   # psql, dbt and dagster now reach this warehouse
  .venv/bin/dbt build                 # rebuild (run from the project root)
  .venv/bin/dbt docs generate && .venv/bin/dbt docs serve   # model and column docs
"""
    )
