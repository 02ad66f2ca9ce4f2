"""The semantic layer: MetricFlow validates the project against the built warehouse, and its
metrics and saved queries give exact values that equal the marts'.

One organization, teams T1 (Ada, Bob) and T2 (Cy). Prices: github_copilot 0.00003/token,
openai_codex 0.00001/token; the baseline is github_copilot (no default provider).
  1 Ada codex   bug_fix 2026-03-02 01:00  30 s 1000 tok completed: cost 0.01  baseline 0.03
  2 Ada copilot bug_fix 2026-03-02 02:00  60 s 1000 tok completed: cost 0.03  baseline 0.03
  3 Bob codex   bug_fix 2026-03-03 03:00  90 s 2000 tok failed
  4 Bob codex   feature 2026-03-09 03:00  20 s  500 tok completed: cost 0.005 baseline 0.015
  5 Cy  copilot feature 2026-04-01 05:00  40 s 2000 tok completed: cost 0.06  baseline 0.06
March: 4 tasks, 3 completed; cost 0.045, baseline 0.075, savings 0.03, savings % 100 x 0.03 /
0.075 = 40; 2 active developers; success 3 / 4; average cost 0.045 / 3 = 0.015; p95 of the
completed durations 20, 30, 60 s (continuous) = 30 + 0.9 x 30 = 57 s. April: task 5 alone.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.handbuilt import built_warehouse, write, write_prices
from warehouse.dbt import dbt_environment

ROOT = Path(__file__).resolve().parent.parent
MF = str(Path(sys.executable).parent / "mf")
ORG = "0000000a-0000-4000-8000-000000000000"
T1, T2 = "000000b1-0000-4000-8000-000000000000", "000000b2-0000-4000-8000-000000000000"
ADA, BOB, CY = (f"000000a{n}-0000-4000-8000-000000000000" for n in (1, 2, 3))
AS_OF = "2026-04-02T00:00:00+00:00"


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [{"id": ORG, "name": "Org A"}])
    write(landing / "teams.csv", [
        {"id": T1, "organization_id": ORG, "name": "T1"},
        {"id": T2, "organization_id": ORG, "name": "T2"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": user, "organization_id": ORG, "team_id": team, "name": name,
         "created_at": "2020-01-01T00:00:00Z"}
        for user, team, name in ((ADA, T1, "Ada"), (BOB, T1, "Bob"), (CY, T2, "Cy"))
    ])  # fmt: skip
    write_prices(landing)

    def run(number, user, provider, task_type, start, seconds, tokens, status):
        started = datetime.fromisoformat(start).replace(tzinfo=UTC)
        ended = (started + timedelta(seconds=seconds)).isoformat()
        return {
            "id": f"00000000-0000-4000-8000-00000000000{number}", "task_id": f"t{number}",
            "user_id": user, "organization_id": ORG, "task_type": task_type,
            "provider": provider, "start_time": started.isoformat(), "end_time": ended,
            "tokens_used": tokens, "status": status, "updated_at": ended,
        }  # fmt: skip

    write(landing / "task_executions.csv", [
        run(1, ADA, "openai_codex", "bug_fix", "2026-03-02T01:00:00", 30, 1000, "completed"),
        run(2, ADA, "github_copilot", "bug_fix", "2026-03-02T02:00:00", 60, 1000, "completed"),
        run(3, BOB, "openai_codex", "bug_fix", "2026-03-03T03:00:00", 90, 2000, "failed"),
        run(4, BOB, "openai_codex", "feature", "2026-03-09T03:00:00", 20, 500, "completed"),
        run(5, CY, "github_copilot", "feature", "2026-04-01T05:00:00", 40, 2000, "completed"),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def built(server, tmp_path_factory) -> Iterator[tuple[psycopg.Connection, Path]]:
    """The warehouse of these tests, built once: a connection, and a folder for mf's output."""
    tmp_path = tmp_path_factory.mktemp("semantic")
    with built_warehouse(server, tmp_path, build_landing, AS_OF) as connection:
        yield connection, tmp_path


def mf(*args: str) -> subprocess.CompletedProcess:
    """The ``mf`` command, with what ``warehouse env`` exports, in a copy of the project root
    made of links whose ``target`` is this test's dbt target (mf reads the semantic manifest
    from ``target/`` under the project root, and the manifest names the test's database)."""
    project = Path(os.environ["DBT_TARGET_PATH"]).parent / "project"
    if not project.exists():
        project.mkdir()
        for entry in ROOT.iterdir():
            if entry.name not in ("target", "logs") and not entry.name.startswith("."):
                (project / entry.name).symlink_to(entry)
        (project / "target").symlink_to(os.environ["DBT_TARGET_PATH"])
    finished = subprocess.run(
        [MF, *args], cwd=project, env={**os.environ, **dbt_environment()},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished


def mf_query(folder: Path, *args: str) -> list[dict[str, str]]:
    """``mf query`` with ``args``, its rows as written by --csv."""
    out = folder / "query.csv"
    out.unlink(missing_ok=True)
    mf("query", *args, "--csv", str(out))
    with open(out, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> Decimal:
    return Decimal(text).normalize()


def test_metricflow_validates_the_project_against_the_built_warehouse(built):
    finished = mf("validate-configs")
    assert "ERRORS: 0" in finished.stdout, finished.stdout[-3000:]


def test_organization_metrics_by_month_are_exact_and_equal_the_rollup(built):
    connection, folder = built
    rows = mf_query(
        folder, "--metrics",
        "tasks,completed_tasks,cost,baseline_cost,savings,savings_percentage,active_developers,"
        "success_rate,avg_cost_per_task,duration_p95_ms",
        "--group-by", "metric_time__month,organization", "--order", "metric_time__month",
    )  # fmt: skip

    assert [{key: value[:10] if key == "metric_time__month" else
              value if key == "organization" else Decimal(value)
              for key, value in row.items()} for row in rows] == [
        {"metric_time__month": "2026-03-01", "organization": ORG, "tasks": 4,
         "completed_tasks": 3, "cost": Decimal("0.045"), "baseline_cost": Decimal("0.075"),
         "savings": Decimal("0.03"), "savings_percentage": 40, "active_developers": 2,
         "success_rate": 75, "avg_cost_per_task": Decimal("0.015"), "duration_p95_ms": 57000},
        {"metric_time__month": "2026-04-01", "organization": ORG, "tasks": 1,
         "completed_tasks": 1, "cost": Decimal("0.06"), "baseline_cost": Decimal("0.06"),
         "savings": 0, "savings_percentage": 0, "active_developers": 1,
         "success_rate": 100, "avg_cost_per_task": Decimal("0.06"), "duration_p95_ms": 40000},
    ]  # fmt: skip
    # the rollup's monthly rows: the same counts and savings % (its money is rounded to cents
    # per day, DESIGN.md; the semantic layer sums the tasks' exact amounts)
    rollup = connection.execute(
        "select metric_date::text, total_tasks, completed_tasks, active_developers, "
        "savings_percentage from analytics.organization_analytics "
        "where aggregation_period = 'monthly' order by metric_date"
    ).fetchall()
    assert rollup == [
        (row["metric_time__month"][:10], int(row["tasks"]), int(row["completed_tasks"]),
         int(row["active_developers"]), round(Decimal(row["savings_percentage"]), 2))
        for row in rows
    ]  # fmt: skip
    # and the sums over the task mart, exactly
    exact = connection.execute(
        "select sum(cost_usd), sum(baseline_cost_usd), sum(savings_usd) "
        "from analytics.task_executions where status = 'completed' "
        "group by date_trunc('month', start_time at time zone 'utc') order by 1"
    ).fetchall()
    assert exact == [
        (number(row["cost"]), number(row["baseline_cost"]), number(row["savings"])) for row in rows
    ]


def test_saved_query_provider_comparison_equals_provider_performance_metrics(built):
    connection, folder = built
    rows = mf_query(folder, "--saved-query", "provider_monthly_comparison")
    got = sorted(
        (row["metric_time__month"][:10], row["task__provider"], row["task__task_type"],
         int(row["finished_tasks"]), Decimal(row["success_rate"]),
         Decimal(row["avg_cost_per_task"]), Decimal(row["duration_p95_ms"]))
        for row in rows
    )  # fmt: skip
    assert got == [
        ("2026-03-01", "github_copilot", "bug_fix", 1, 100, Decimal("0.03"), 60000),
        ("2026-03-01", "openai_codex", "bug_fix", 2, 50, Decimal("0.01"), 30000),
        ("2026-03-01", "openai_codex", "feature", 1, 100, Decimal("0.005"), 20000),
        ("2026-04-01", "github_copilot", "feature", 1, 100, Decimal("0.06"), 40000),
    ]
    metrics = connection.execute(
        "select metric_date::text, provider, task_type, total_tasks, success_rate, "
        "avg_cost_usd, p95_duration_ms from analytics.provider_performance_metrics "
        "where aggregation_period = 'monthly' order by 1, 2, 3"
    ).fetchall()
    assert metrics == got


def test_saved_query_team_productivity_equals_user_analytics(built):
    connection, folder = built
    rows = mf_query(folder, "--saved-query", "team_weekly_productivity")
    got = sorted(
        (row["metric_time__week"][:10], row["user__team"], row["user"], int(row["tasks"]),
         number(row["savings"]))
        for row in rows
    )  # fmt: skip
    assert got == sorted([
        ("2026-03-02", T1, ADA, 2, Decimal("0.02")),
        ("2026-03-02", T1, BOB, 1, Decimal("0")),  # failed: no savings
        ("2026-03-09", T1, BOB, 1, Decimal("0.01")),
        ("2026-03-30", T2, CY, 1, Decimal("0")),  # ISO week of April 1st starts March 30th
    ])  # fmt: skip
    weekly = connection.execute(
        "select metric_date::text, team_id::text, user_id::text, total_tasks, "
        "total_savings_usd from analytics.user_analytics join analytics.users "
        "on users.id = user_analytics.user_id where aggregation_period = 'weekly'"
    ).fetchall()
    assert sorted((d, t, u, n, s.normalize()) for d, t, u, n, s in weekly) == got


def test_saved_queries_for_the_organization_dashboard_and_daily_savings(built):
    """3.1 by month and 3.2 by day, as the docstring works them out."""
    _, folder = built
    monthly = mf_query(folder, "--saved-query", "organization_monthly_dashboard")
    assert sorted(
        (row["metric_time__month"][:10], row["organization"], number(row["cost"]),
         number(row["baseline_cost"]), number(row["savings"]),
         number(row["savings_percentage"]), int(row["tasks"]), int(row["active_developers"]))
        for row in monthly
    ) == [
        ("2026-03-01", ORG, Decimal("0.045"), Decimal("0.075"), Decimal("0.03"), 40, 4, 2),
        ("2026-04-01", ORG, Decimal("0.06"), Decimal("0.06"), 0, 0, 1, 1),
    ]  # fmt: skip
    daily = mf_query(folder, "--saved-query", "organization_daily_savings")
    assert sorted(
        (row["metric_time__day"][:10], row["organization"], number(row["savings"]),
         int(row["completed_tasks"]))
        for row in daily
    ) == [
        ("2026-03-02", ORG, Decimal("0.02"), 2),
        ("2026-03-03", ORG, 0, 0),  # Bob's failed task
        ("2026-03-09", ORG, Decimal("0.01"), 1),
        ("2026-04-01", ORG, 0, 1),
    ]  # fmt: skip
