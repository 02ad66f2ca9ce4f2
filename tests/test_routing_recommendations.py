"""analytics.routing_recommendations recommends a cheaper provider of the same success on
enough evidence, and nothing on thin evidence.

Prices per token: github_copilot 0.00003, openai_codex 0.00001, google_code_assist 0.00002.
Every task is a bug_fix of 1,000 tokens in March 2026; the build runs as of March 29th, so the
window (28 days) is March 1st to 28th. recommendation_min_tasks is 4 (--vars).
  Org A: 5 completed on copilot (0.03 each): success 100 %, average 0.03.
  Org B: 5 on codex, 4 completed and 1 failed (0.01 each); 5 completed on google (0.02 each):
         success 90 %, average (4 x 0.01 + 5 x 0.02) / 9 = 0.015556.
  Org C: 3 completed on copilot: 3 finished tasks, under the minimum.
Providers over every organization: copilot 8 finished, 100 %, 0.03; codex 5, 80 %, 0.01;
google 5, 100 %, 0.02.
  A: google (100 % >= 100 - 2, 0.02 < 0.03): (0.03 - 0.02) x 5 x 30 / 28 = 0.05 a month; codex
     fails on success (80 < 98), copilot is not cheaper.
  B: codex fails on success (80 < 88), google and copilot are not cheaper than 0.015556.
  C: nothing: thin evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.handbuilt import built_warehouse, write, write_prices
from warehouse.dbt import run_dbt

ORGS = {name: f"0000000{name.lower()}-0000-4000-8000-000000000000" for name in "ABC"}
USERS = {name: f"000000{name.lower()}1-0000-4000-8000-000000000000" for name in "ABC"}
AS_OF = "2026-03-29T00:00:00+00:00"
PRICES = {"github_copilot": "0.00003", "openai_codex": "0.00001", "google_code_assist": "0.00002"}


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [{"id": o, "name": f"Org {n}"} for n, o in ORGS.items()])
    write(landing / "users.csv", [
        {"id": USERS[n], "organization_id": ORGS[n], "name": n,
         "created_at": "2020-01-01T00:00:00Z"} for n in ORGS
    ])  # fmt: skip
    write_prices(landing, PRICES)
    runs = [("A", "github_copilot", "completed")] * 5 + [("B", "openai_codex", "completed")] * 4
    runs += [("B", "openai_codex", "failed")] + [("B", "google_code_assist", "completed")] * 5
    runs += [("C", "github_copilot", "completed")] * 3
    write(landing / "task_executions.csv", [
        {"id": f"00000000-0000-4000-8000-{number:012d}", "task_id": f"t{number}",
         "user_id": USERS[org], "organization_id": ORGS[org], "task_type": "bug_fix",
         "provider": provider, "start_time": f"2026-03-{2 + number:02d}T10:00:00Z",
         "end_time": f"2026-03-{2 + number:02d}T10:01:00Z", "tokens_used": 1000,
         "status": status, "updated_at": f"2026-03-{2 + number:02d}T10:01:00Z"}
        for number, (org, provider, status) in enumerate(runs)
    ])  # fmt: skip


@pytest.fixture(scope="module")
def connection(server, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("recommendations")
    minimum = json.dumps({"recommendation_min_tasks": 4})
    with built_warehouse(server, tmp_path, build_landing, AS_OF, "--vars", minimum) as built:
        yield built


def test_a_cheaper_provider_of_the_same_success_is_recommended_with_its_evidence(connection):
    assert connection.execute(
        "select organization_id::text, task_type, rank, recommended_provider, "
        "estimated_monthly_savings_usd, current_success_rate, current_avg_cost_usd, "
        "current_finished_tasks, current_completed_tasks, provider_success_rate, "
        "provider_avg_cost_usd, provider_finished_tasks, evidence_from, evidence_to, reason "
        "from analytics.routing_recommendations"
    ).fetchall() == [
        (ORGS["A"], "bug_fix", 1, "google_code_assist", Decimal("0.05"), Decimal("100.00"),
         Decimal("0.030000"), 5, 5, Decimal("100.00"), Decimal("0.020000"), 5,
         date(2026, 3, 1), date(2026, 3, 28),
         "route bug_fix to google_code_assist: 100.0 % success on 5 tasks against 100.0 % on "
         "your 5, at 0.0200 USD a task instead of 0.0300: about 0.05 USD a month"),
    ]  # fmt: skip


def test_nothing_is_recommended_on_thin_evidence(connection):
    """With a minimum of 6 finished tasks, A's 5 are too few: no recommendation at all."""
    run_dbt(
        ["run", "--select", "routing_recommendations", "--vars",
         json.dumps({"recommendation_min_tasks": 6})],
        as_of=AS_OF,
    )  # fmt: skip
    assert connection.execute(
        "select count(*) from analytics.routing_recommendations"
    ).fetchone() == (0,)
