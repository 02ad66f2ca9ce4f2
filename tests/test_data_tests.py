"""The validation rules as dbt tests: warnings are listed and let the build pass; an
error-level violation in a mart fails it. Uses the hand-built dataset of test_marts."""

from __future__ import annotations

from orchestration.ingest.loader import load_paths
from tests.test_marts import AS_OF, build_landing


def outcomes(result) -> dict[str, tuple[str, int | None]]:
    return {
        item.node.name: (str(item.status), item.failures)
        for item in result.result.results
        if item.node.resource_type == "test"
    }


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
