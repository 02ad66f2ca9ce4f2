"""docs/metrics.md stays true: its recompute-from-raw queries give what the marts hold. (Column
definitions live in the models' yml files, checked by test_project_structure.)"""

from __future__ import annotations

import re
from decimal import Decimal

from tests.test_marts import A1, AS_OF, ORG_A, build_landing
from warehouse import settings
from warehouse.ingest.loader import load_paths

DOC = settings.project_dir() / "docs" / "metrics.md"
BLOCK = re.compile(r"```sql\n-- recompute: (?P<name>[^\n]+)\n(?P<sql>.*?)```", re.DOTALL)
PSQL_VARIABLE = re.compile(r":'(\w+)'")


def doc_queries() -> dict[str, str]:
    return {m["name"]: m["sql"] for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


def run_doc_query(connection, name: str, **variables: str) -> dict[str, object]:
    queries = doc_queries()
    text = PSQL_VARIABLE.sub(r"%(\1)s", queries[name])
    if name != "organization_analytics daily total_developers":
        text = PSQL_VARIABLE.sub(r"%(\1)s", queries["base"]) + text
    cursor = connection.execute(text, {"as_of": AS_OF, **variables})
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_recompute_queries_match_the_marts(connection, dbt, tmp_path):
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build", as_of=AS_OF)

    org_row = run_doc_query(connection, "organization_analytics daily", org=ORG_A,
                            day="2026-03-01")  # fmt: skip
    developers = run_doc_query(connection, "organization_analytics daily total_developers",
                               org=ORG_A, day="2026-03-02")  # fmt: skip
    mart = connection.execute(
        """
        select metric_date::text, total_tasks, active_developers, total_cost_usd,
            total_baseline_cost_usd, total_savings_usd, savings_percentage, total_developers
        from analytics.organization_analytics
        where organization_id = %s and aggregation_period = 'daily'
        order by metric_date
        """,
        (ORG_A,),
    ).fetchall()
    assert mart[0][1:7] == tuple(org_row.values())
    assert mart[1][7] == developers["total_developers"] == 2

    user_row = run_doc_query(connection, "user_analytics daily", user=A1, day="2026-03-01")
    assert connection.execute(
        "select total_tasks, total_duration_ms, avg_task_duration_ms, total_cost_usd, "
        "total_savings_usd, most_used_provider from analytics.user_analytics "
        "where user_id = %s and aggregation_period = 'daily' and metric_date = '2026-03-01'",
        (A1,),
    ).fetchone() == tuple(user_row.values())

    provider_row = run_doc_query(connection, "provider_performance_metrics daily",
                                 provider="openai_codex", task_type="test",
                                 day="2026-03-02")  # fmt: skip
    assert connection.execute(
        "select total_tasks, successful_tasks, success_rate, median_duration_ms, "
        "total_cost_usd, total_tokens from analytics.provider_performance_metrics "
        "where provider = 'openai_codex' and task_type = 'test' "
        "and aggregation_period = 'daily' and metric_date = '2026-03-02'"
    ).fetchone() == tuple(provider_row.values())

    for task_id in ("T1", "T2", "T3", "T4", "T5"):
        traced = run_doc_query(connection, "task cost", task_id=task_id)
        assert connection.execute(
            "select id, cost_usd, baseline_cost_usd, savings_usd, status "
            "from analytics.task_executions where task_id = %s",
            (task_id,),
        ).fetchone() == tuple(traced.values()), task_id
    assert traced["cost"] == Decimal("0.005")


def test_doc_lists_every_recompute_query_the_test_runs():
    assert set(doc_queries()) == {
        "base", "organization_analytics daily", "organization_analytics daily total_developers",
        "user_analytics daily", "provider_performance_metrics daily", "task cost",
    }  # fmt: skip
