"""The validation rules as dbt tests: warnings are listed and let the build pass; an
error-level violation in a mart fails it. Uses the hand-built dataset of test_marts."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.test_marts import A1, AS_OF, B1, ORG_A, ORG_B, build_landing, write
from warehouse.alerting.rules import data_quality_alerts
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths


def outcomes(result) -> dict[str, tuple[str, int | None]]:
    return {
        item.node.name: (str(item.status), item.failures)
        for item in result.result.results
        if item.node.resource_type == "test"
    }


def load_days(connection, landing, days: dict[int, tuple[int, int]]) -> None:
    """The reference data of test_marts, and for each day number d (2026-02-(10 + d)) the
    given number of tasks of which the given number failed (the rest completed)."""
    build_landing(landing)  # its tasks are replaced below
    rows = []
    for day, (tasks, failures) in days.items():
        for number in range(tasks):
            start = f"2026-02-{10 + day:02d}T10:{number % 60:02d}:00Z"
            end = f"2026-02-{10 + day:02d}T11:{number % 60:02d}:00Z"
            rows.append({
                "id": f"00000000-0000-4000-8{day:03d}-{number:012d}", "task_id": f"D{day}-{number}",
                "user_id": A1, "organization_id": ORG_A, "task_type": "bug_fix",
                "provider": "github_copilot", "start_time": start, "end_time": end,
                "tokens_used": 100, "cost_usd": "0.01",
                "status": "failed" if number < failures else "completed", "updated_at": end,
            })  # fmt: skip
    write(landing / "task_executions.csv", rows)
    (landing / "routing_decisions.csv").unlink()
    load_paths(connection, [landing])


def test_warnings_are_listed_and_do_not_fail_the_build(connection, dbt, tmp_path):
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])

    result = dbt("build", as_of=AS_OF)

    tests = outcomes(result)
    assert result.success
    # T1 (-0.001) and the timed-out T4 (-0.001) cost more than their baseline.
    assert tests["task_savings_are_not_negative"] == ("warn", 2)
    assert connection.execute(
        "select count(*) from monitoring.task_savings_are_not_negative"
    ).fetchone() == (2,)
    assert {status for status, _ in tests.values()} == {"pass", "warn"}
    # The test scope (macros/test_scope.sql) reads a tested model's built_at from its docs:
    # every model with generic tests whose table has that column documents it.
    manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    built = {tuple(row) for row in connection.execute(
        "select table_schema, table_name from information_schema.columns "
        "where column_name = 'built_at'"
    )}  # fmt: skip
    tested = {node["attached_node"] for node in manifest["nodes"].values()
              if node["resource_type"] == "test" and node.get("attached_node")}  # fmt: skip
    undocumented = [
        key for key in tested
        if key.startswith("model.") and (manifest["nodes"][key]["schema"],
                                         manifest["nodes"][key]["alias"]) in built
        and "built_at" not in manifest["nodes"][key]["columns"]
    ]  # fmt: skip
    assert tested
    assert undocumented == []


def test_an_error_level_violation_fails_the_build(connection, dbt, tmp_path):
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build", as_of=AS_OF)
    connection.execute(
        "update analytics.task_executions set savings_usd = savings_usd + 1 where task_id = 'T2'"
    )

    result = dbt("test", "--select", "task_executions", as_of=AS_OF, check=False)

    tests = outcomes(result)
    assert not result.success
    assert tests["task_savings_equal_baseline_minus_cost"] == ("fail", 1)
    assert [name for name, (status, _) in tests.items() if status == "fail"] == [
        "task_savings_equal_baseline_minus_cost"
    ]


def test_daily_failure_thresholds_warn_above_5_and_fail_above_10_percent(connection, dbt, tmp_path):
    """Three days of 100 tasks each (02-11, 02-12, 02-13): 12, 7 and 3 failed. 12 % breaks the
    critical (10 %) threshold, 12 % and 7 % the warning one (5 %), 3 % neither. Only the days
    of the week before as_of are judged."""
    load_days(connection, tmp_path / "landing", {1: (100, 12), 2: (100, 7), 3: (100, 3)})

    result = dbt("build", as_of="2026-02-14T00:00:00+00:00", check=False)

    tests = outcomes(result)
    assert not result.success
    assert tests["failed_task_share_per_day_critical"] == ("fail", 1)
    assert tests["failed_task_share_per_day_warning"] == ("warn", 2)
    assert tests["invalid_cost_share_per_day"] == ("pass", 0)
    models = [item for item in result.result.results if item.node.resource_type == "model"]
    assert {str(item.status) for item in models} == {"success"}  # no mart skipped

    # A week (dq_threshold_days) later the bad day is history: it no longer fails builds.
    later = dbt("build", "--select", "data_quality_daily", as_of="2026-02-18T00:00:00+00:00")
    assert outcomes(later)["failed_task_share_per_day_critical"] == ("pass", 0)
    assert outcomes(later)["failed_task_share_per_day_warning"] == (
        "warn",
        1,
    )  # 02-11 is out: 02-12 only


def test_status_test_and_alert_agree_at_the_boundary(connection, dbt, tmp_path):
    """201 failed of 2,009 tasks is 10.005 %: over the critical 10 %, although the displayed
    percentage rounds to 10.00. The day's status is critical, the critical test fails and the
    alert is critical: all three read the one rating. 200 of 2,000 (exactly 10 %) is a warning
    for all three."""
    load_days(connection, tmp_path / "landing", {1: (2009, 201), 2: (2000, 200)})

    result = dbt("build", as_of="2026-02-14T00:00:00+00:00", check=False)

    rows = connection.execute(
        "select metric_date::text, failed_task_percentage::text, failed_task_status, "
        "is_in_judged_window from monitoring.data_quality_daily where total_tasks > 0 "
        "order by metric_date"
    ).fetchall()
    assert rows == [
        ("2026-02-11", "10.00", "critical", True),
        ("2026-02-12", "10.00", "warning", True),
    ]
    tests = outcomes(result)
    assert tests["failed_task_share_per_day_critical"] == ("fail", 1)
    assert tests["failed_task_share_per_day_warning"] == ("warn", 2)
    alerts = [
        (alert.rule, alert.severity, alert.alert_date.isoformat())
        for alert in data_quality_alerts(connection)
    ]
    assert sorted(alerts) == [
        ("failed_task_rate", "critical", "2026-02-11"),
        ("failed_task_rate", "warning", "2026-02-12"),
    ]

    # Out of the judged window, neither the tests nor the alert rules judge the days.
    dbt("build", "--select", "data_quality_daily", as_of="2026-02-25T00:00:00+00:00")
    assert data_quality_alerts(connection) == []


def test_daily_builds_test_what_they_built_and_the_weekly_sweep_tests_every_row(
    connection, dbt, tmp_path
):
    """Generic tests of an incremental mart read the rows of its latest build (their cost
    follows new data); the weekly sweep (var full_test_sweep) and --full-refresh read every
    row, so damage to old rows is found within a week. T2's row is damaged after the first
    build; the next build, which rebuilds only T5 (a new version), does not see it; the
    sweep does."""
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build", as_of=AS_OF)
    connection.execute(
        "update analytics.task_executions set savings_usd = savings_usd + 1 where task_id = 'T2'"
    )
    later = tmp_path / "later"
    later.mkdir()
    write(later / "task_executions__later.csv", [{
        "id": "00000000-0000-4000-8000-000000000005", "task_id": "T5", "user_id": B1,
        "organization_id": ORG_B, "task_type": "feature", "provider": "openai_codex",
        "start_time": "2026-03-02T08:00:00Z", "end_time": "2026-03-02T08:00:30Z",
        "tokens_used": 1000, "cost_usd": "0", "status": "completed",
        "updated_at": "2026-03-02T08:05:00Z",
    }])  # fmt: skip
    load_paths(connection, [later])

    daily = dbt("build", as_of=AS_OF, check=False)

    assert outcomes(daily)["task_savings_equal_baseline_minus_cost"] == ("pass", 0)
    assert connection.execute(
        "select task_id from analytics.task_executions "
        "where built_at = (select max(built_at) from analytics.task_executions) order by 1"
    ).fetchall() == [("T5",)]

    sweep = run_dbt(
        ["test", "--select", "task_executions", "--vars", "{full_test_sweep: true}"],
        check=False,
        as_of=AS_OF,
    )

    assert outcomes(sweep)["task_savings_equal_baseline_minus_cost"] == ("fail", 1)


def test_weeks_and_months_are_checked_against_their_days_when_rebuilt_and_in_the_sweep(
    connection, dbt, tmp_path
):
    """organization_periods_add_up_to_their_days reads the weeks and months of the rollup's
    latest build, each against all of its days; the sweep reads every week and month. A
    week of organization A damaged after the first build is not rebuilt by the next one (its
    new task T5 is organization B's), so only the sweep finds it; B's week, rebuilt and then
    damaged, is found by the daily test too."""
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build", as_of=AS_OF)
    damage = (
        "update analytics.organization_analytics set total_tasks = total_tasks + 1 "
        "where organization_id = %s and aggregation_period = 'weekly' and metric_date = %s"
    )
    connection.execute(damage, (ORG_A, "2026-02-23"))
    later = tmp_path / "later"
    later.mkdir()
    write(later / "task_executions__later.csv", [{
        "id": "00000000-0000-4000-8000-000000000005", "task_id": "T5", "user_id": B1,
        "organization_id": ORG_B, "task_type": "feature", "provider": "openai_codex",
        "start_time": "2026-03-02T08:00:00Z", "end_time": "2026-03-02T08:00:30Z",
        "tokens_used": 1000, "cost_usd": "0", "status": "completed",
        "updated_at": "2026-03-02T08:05:00Z",
    }])  # fmt: skip
    load_paths(connection, [later])
    name = "organization_periods_add_up_to_their_days"

    daily = dbt("build", as_of=AS_OF, check=False)
    connection.execute(damage, (ORG_B, "2026-03-02"))
    daily_test = run_dbt(["test", "--select", name], check=False, as_of=AS_OF)
    sweep = run_dbt(
        ["test", "--select", name, "--vars", "{full_test_sweep: true}"], check=False, as_of=AS_OF
    )

    assert outcomes(daily)[name] == ("pass", 0)
    assert outcomes(daily_test)[name] == ("fail", 1)
    assert outcomes(sweep)[name] == ("fail", 2)
