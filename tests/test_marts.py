"""Marts on a small hand-built dataset: every expected number is worked out by hand here.

Prices (window [from, until)):
  P1 github_copilot, any type/tier: 0.00001/token + 0.001/request + 0.01/minute, from 2026-01-01
  P2 openai_codex, any: 0.00002/token + 0.002/request, 2026-01-01 until 2026-03-02 00:00
  P3 openai_codex, any: 0.00001/token + 0.002/request, from 2026-03-02 00:00 (price change)
  P4 openai_codex, enterprise tier: 0.000005/token, from 2026-01-01
Org A: standard tier, no default provider (baseline = github_copilot); users A1, A2 (joins
2026-03-02 08:00). Org B: enterprise, default provider openai_codex; user B1.
as_of 2026-03-03 12:00.

  T1 A1 openai_codex bug_fix  03-01 10:00, 60 s, 1000 tok, completed
     cost P2 = 0.02 + 0.002 = 0.022; baseline P1 = 0.01 + 0.001 + 0.01 = 0.021; savings -0.001
  T2 A1 github_copilot feature 03-01 23:30 -> 03-02 00:30 (60 min), 2000 tok, completed
     cost = baseline = P1 = 0.02 + 0.001 + 0.6 = 0.621; savings 0; its day is 03-01 (start)
  T3 A2 openai_codex test 03-02 09:00, 120 s, 3000 tok, failed
     cost P3 = 0.03 + 0.002 = 0.032; baseline P1 = 0.03 + 0.001 + 0.02 = 0.051
  T4 A2 openai_codex test 03-02 10:00, running, no end -> timed_out as of 03-03 12:00
  T5 B1 openai_codex feature 03-02 08:00, 30 s, 1000 tok, completed
     cost = baseline = P4 (tier row beats the generic one) = 0.005
  T6 B1 status "cancelled" -> quarantined (unknown_status)
  T7 B1 reported cost -1 -> quarantined (negative_cost)
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from warehouse.ingest.loader import load_paths

AS_OF = "2026-03-03T12:00:00+00:00"
ORG_A, ORG_B = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
A1, A2, B1 = (f"000000{n}-0000-4000-8000-000000000000" for n in ("a1", "a2", "b1"))


def task(number: int) -> str:
    return f"00000000-0000-4000-8000-00000000000{number}"


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def execution(number, user, org, provider, task_type, start, end, tokens, status, cost="0"):
    return {
        "id": task(number), "task_id": f"T{number}", "user_id": user, "organization_id": org,
        "task_type": task_type, "provider": provider, "start_time": start, "end_time": end,
        "tokens_used": tokens, "cost_usd": cost, "status": status,
        "updated_at": end or start,
    }  # fmt: skip


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A", "pricing_tier": "standard", "default_provider": ""},
        {"id": ORG_B, "name": "Org B", "pricing_tier": "enterprise",
         "default_provider": "openai_codex"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": A1, "organization_id": ORG_A, "role": "developer",
         "created_at": "2026-01-01T00:00:00Z"},
        {"id": A2, "organization_id": ORG_A, "role": "developer",
         "created_at": "2026-03-02T08:00:00Z"},
        {"id": B1, "organization_id": ORG_B, "role": "developer",
         "created_at": "2026-01-01T00:00:00Z"},
    ])  # fmt: skip
    p = "10000000-0000-4000-8000-00000000000"
    write(landing / "provider_pricing.csv", [
        {"id": f"{p}1", "provider": "github_copilot", "pricing_tier": "",
         "cost_per_token": "0.00001", "cost_per_request": "0.001", "cost_per_minute": "0.01",
         "effective_from": "2026-01-01T00:00:00Z", "effective_until": ""},
        {"id": f"{p}2", "provider": "openai_codex", "pricing_tier": "",
         "cost_per_token": "0.00002", "cost_per_request": "0.002", "cost_per_minute": "",
         "effective_from": "2026-01-01T00:00:00Z", "effective_until": "2026-03-02T00:00:00Z"},
        {"id": f"{p}3", "provider": "openai_codex", "pricing_tier": "",
         "cost_per_token": "0.00001", "cost_per_request": "0.002", "cost_per_minute": "",
         "effective_from": "2026-03-02T00:00:00Z", "effective_until": ""},
        {"id": f"{p}4", "provider": "openai_codex", "pricing_tier": "enterprise",
         "cost_per_token": "0.000005", "cost_per_request": "", "cost_per_minute": "",
         "effective_from": "2026-01-01T00:00:00Z", "effective_until": ""},
    ])  # fmt: skip
    write(landing / "task_executions.csv", [
        execution(1, A1, ORG_A, "openai_codex", "bug_fix", "2026-03-01T10:00:00Z",
                  "2026-03-01T10:01:00Z", 1000, "completed"),
        execution(2, A1, ORG_A, "github_copilot", "feature", "2026-03-01T23:30:00Z",
                  "2026-03-02T00:30:00Z", 2000, "completed"),
        execution(3, A2, ORG_A, "openai_codex", "test", "2026-03-02T09:00:00Z",
                  "2026-03-02T09:02:00Z", 3000, "failed"),
        execution(4, A2, ORG_A, "openai_codex", "test", "2026-03-02T10:00:00Z", "", 0,
                  "running"),
        execution(5, B1, ORG_B, "openai_codex", "feature", "2026-03-02T08:00:00Z",
                  "2026-03-02T08:00:30Z", 1000, "completed"),
        execution(6, B1, ORG_B, "openai_codex", "feature", "2026-03-02T08:00:00Z",
                  "2026-03-02T08:00:30Z", 1000, "cancelled"),
        execution(7, B1, ORG_B, "openai_codex", "feature", "2026-03-02T08:00:00Z",
                  "2026-03-02T08:00:30Z", 1000, "completed", cost="-1"),
    ])  # fmt: skip
    write(landing / "routing_decisions.csv", [
        {"id": "20000000-0000-4000-8000-000000000001", "task_execution_id": task(1),
         "chosen_provider": "openai_codex", "decision_timestamp": "2026-03-01T09:59:59Z",
         "predicted_cost": "0.03", "actual_cost": "0.022", "predicted_quality_score": "85",
         "actual_quality_score": "80", "predicted_duration_ms": "50000",
         "actual_duration_ms": "60000", "created_at": "2026-03-01T10:01:00Z"},
    ])  # fmt: skip


def d(value: str) -> Decimal:
    return Decimal(value)


def test_marts_match_hand_computed_values(connection, dbt, tmp_path):
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])

    dbt("build", as_of=AS_OF)

    tasks = {
        row[0]: row[1:]
        for row in connection.execute(
            """
            select task_id, status, duration_ms, cost_usd, baseline_cost_usd, savings_usd,
                cost_source, right(pricing_id::text, 1), baseline_provider, start_date
            from analytics.task_executions
            """
        )
    }
    assert tasks == {
        "T1": ("completed", 60_000, d("0.022"), d("0.021"), d("-0.001"), "pricing", "2",
               "github_copilot", date(2026, 3, 1)),
        "T2": ("completed", 3_600_000, d("0.621"), d("0.621"), d("0"), "pricing", "1",
               "github_copilot", date(2026, 3, 1)),
        "T3": ("failed", 120_000, d("0.032"), d("0.051"), d("0.019"), "pricing", "3",
               "github_copilot", date(2026, 3, 2)),
        "T4": ("timed_out", None, d("0.002"), d("0.001"), d("-0.001"), "pricing", "3",
               "github_copilot", date(2026, 3, 2)),
        "T5": ("completed", 30_000, d("0.005"), d("0.005"), d("0"), "pricing", "4",
               "openai_codex", date(2026, 3, 2)),
    }  # fmt: skip
    assert connection.execute(
        "select task_id, reason from monitoring.quarantined_task_executions order by task_id"
    ).fetchall() == [("T6", "unknown_status"), ("T7", "negative_cost")]

    org_rows = connection.execute(
        """
        select organization_id, aggregation_period, metric_date, total_tasks, completed_tasks,
            failed_tasks, timed_out_tasks, total_developers, active_developers, total_cost_usd,
            total_baseline_cost_usd, total_savings_usd, savings_percentage, provider_usage,
            provider_costs, task_type_distribution
        from analytics.organization_analytics
        order by organization_id, aggregation_period, metric_date
        """
    ).fetchall()
    a, b = UUID(ORG_A), UUID(ORG_B)
    cost_a = {"github_copilot": 0.621, "openai_codex": 0.022}
    assert org_rows == [
        # A, 03-01: T1 + T2 completed; cost 0.643 -> 0.64, baseline 0.642 -> 0.64,
        # savings -0.001 -> 0.00, savings % = 100 x -0.001 / 0.642 = -0.16; A2 not yet there.
        (a, "daily", date(2026, 3, 1), 2, 2, 0, 0, 1, 1, d("0.64"), d("0.64"), d("0.00"),
         d("-0.16"), {"github_copilot": 1, "openai_codex": 1}, cost_a,
         {"bug_fix": 1, "feature": 1}),
        # A, 03-02: T3 failed, T4 timed out: no completed cost, no baseline -> % is null.
        (a, "daily", date(2026, 3, 2), 2, 0, 1, 1, 2, 1, d("0.00"), d("0.00"), d("0.00"),
         None, {"openai_codex": 2}, {"openai_codex": 0}, {"test": 2}),
        (a, "monthly", date(2026, 3, 1), 4, 2, 1, 1, 2, 2, d("0.64"), d("0.64"), d("0.00"),
         d("-0.16"), {"github_copilot": 1, "openai_codex": 3}, cost_a,
         {"bug_fix": 1, "feature": 1, "test": 2}),
        # 03-01 is a Sunday: week of Monday 02-23; 03-02 starts the next ISO week.
        (a, "weekly", date(2026, 2, 23), 2, 2, 0, 0, 1, 1, d("0.64"), d("0.64"), d("0.00"),
         d("-0.16"), {"github_copilot": 1, "openai_codex": 1}, cost_a,
         {"bug_fix": 1, "feature": 1}),
        (a, "weekly", date(2026, 3, 2), 2, 0, 1, 1, 2, 1, d("0.00"), d("0.00"), d("0.00"),
         None, {"openai_codex": 2}, {"openai_codex": 0}, {"test": 2}),
        # B: T5 only; 0.005 rounds to 0.01 (half away from zero), savings 0 -> 0.00 %.
        (b, "daily", date(2026, 3, 2), 1, 1, 0, 0, 1, 1, d("0.01"), d("0.01"), d("0.00"),
         d("0.00"), {"openai_codex": 1}, {"openai_codex": 0.005}, {"feature": 1}),
        (b, "monthly", date(2026, 3, 1), 1, 1, 0, 0, 1, 1, d("0.01"), d("0.01"), d("0.00"),
         d("0.00"), {"openai_codex": 1}, {"openai_codex": 0.005}, {"feature": 1}),
        (b, "weekly", date(2026, 3, 2), 1, 1, 0, 0, 1, 1, d("0.01"), d("0.01"), d("0.00"),
         d("0.00"), {"openai_codex": 1}, {"openai_codex": 0.005}, {"feature": 1}),
    ]  # fmt: skip

    assert connection.execute(
        """
        select total_tasks, total_duration_ms, avg_task_duration_ms, total_cost_usd,
            total_savings_usd, most_used_provider
        from analytics.user_analytics
        where user_id = %s and aggregation_period = 'daily' and metric_date = '2026-03-01'
        """,
        (A1,),
    ).fetchone() == (2, 3_660_000, 1_830_000, d("0.643"), d("-0.001"), "github_copilot")

    provider_rows = connection.execute(
        """
        select provider, task_type, aggregation_period, period_start, total_tasks,
            successful_tasks, failed_tasks, success_rate, median_duration_ms, total_cost_usd,
            avg_cost_usd, total_tokens, avg_quality_score
        from analytics.provider_performance_metrics
        where aggregation_period in ('hourly', 'daily')
        order by provider, task_type, aggregation_period, period_start
        """
    ).fetchall()
    utc = datetime.fromisoformat
    assert provider_rows == [
        ("github_copilot", "feature", "daily", utc("2026-03-01T00:00:00+00:00"), 1, 1, 0,
         d("100.00"), 3_600_000, d("0.62"), d("0.621"), 2000, None),
        ("github_copilot", "feature", "hourly", utc("2026-03-01T23:00:00+00:00"), 1, 1, 0,
         d("100.00"), 3_600_000, d("0.62"), d("0.621"), 2000, None),
        ("openai_codex", "bug_fix", "daily", utc("2026-03-01T00:00:00+00:00"), 1, 1, 0,
         d("100.00"), 60_000, d("0.02"), d("0.022"), 1000, d("80.00")),
        ("openai_codex", "bug_fix", "hourly", utc("2026-03-01T10:00:00+00:00"), 1, 1, 0,
         d("100.00"), 60_000, d("0.02"), d("0.022"), 1000, d("80.00")),
        ("openai_codex", "feature", "daily", utc("2026-03-02T00:00:00+00:00"), 1, 1, 0,
         d("100.00"), 30_000, d("0.01"), d("0.005"), 1000, None),
        ("openai_codex", "feature", "hourly", utc("2026-03-02T08:00:00+00:00"), 1, 1, 0,
         d("100.00"), 30_000, d("0.01"), d("0.005"), 1000, None),
        # T3 failed (counted, no cost, no duration); T4 timed out: excluded.
        ("openai_codex", "test", "daily", utc("2026-03-02T00:00:00+00:00"), 1, 0, 1,
         d("0.00"), None, d("0.00"), None, 0, None),
        ("openai_codex", "test", "hourly", utc("2026-03-02T09:00:00+00:00"), 1, 0, 1,
         d("0.00"), None, d("0.00"), None, 0, None),
    ]  # fmt: skip

    assert connection.execute(
        "select cost_prediction_error, duration_prediction_error_ms, quality_prediction_error "
        "from analytics.routing_decisions"
    ).fetchone() == (d("0.008"), -10_000, d("5.00"))
