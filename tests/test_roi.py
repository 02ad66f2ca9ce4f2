"""analytics.roi_summary: savings against the platform fee, by organization and month.

Prices: github_copilot 0.00003/token, openai_codex 0.00001/token; baseline github_copilot.
Org A, tier standard (19.00 per developer, seed pricing_tiers), Ada and Bob:
  March: Ada, codex, 1,000,000 tokens, completed: cost 10, baseline 30, savings 20.
         Fee 2 x 19 = 38; net 20 - 38 = -18; ROI 100 x -18 / 38 = -47.37.
  April: Bob, codex, 3,000,000 tokens, completed: cost 30, baseline 90, savings 60.
         Fee 38; net 22; ROI 57.89. Cumulative: savings 80, fees 76, net 4: paid back in April.
Org B, tier enterprise (59.00), overridden to 5.00 per developer (var
platform_fee_overrides), Cy:
  March: Cy, copilot, 1,000 tokens, completed: cost = baseline = 0.03, savings 0.
         Fee 5; net -5; ROI -100; never paid back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.handbuilt import built_warehouse, write, write_prices

ORG_A, ORG_B = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
ADA, BOB, CY = (f"000000a{n}-0000-4000-8000-000000000000" for n in (1, 2, 3))
AS_OF = "2026-05-01T00:00:00+00:00"


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A", "pricing_tier": "standard"},
        {"id": ORG_B, "name": "Org B", "pricing_tier": "enterprise"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": user, "organization_id": org, "name": name, "created_at": "2020-01-01T00:00:00Z"}
        for user, org, name in ((ADA, ORG_A, "Ada"), (BOB, ORG_A, "Bob"), (CY, ORG_B, "Cy"))
    ])  # fmt: skip
    write_prices(landing)
    write(landing / "task_executions.csv", [
        {"id": f"00000000-0000-4000-8000-00000000000{number}", "task_id": f"t{number}",
         "user_id": user, "organization_id": org, "task_type": "feature", "provider": provider,
         "start_time": f"{day}T10:00:00Z", "end_time": f"{day}T10:01:00Z",
         "tokens_used": tokens, "status": "completed", "updated_at": f"{day}T10:01:00Z"}
        for number, user, org, provider, day, tokens in (
            (1, ADA, ORG_A, "openai_codex", "2026-03-02", 1_000_000),
            (2, BOB, ORG_A, "openai_codex", "2026-04-06", 3_000_000),
            (3, CY, ORG_B, "github_copilot", "2026-03-03", 1_000),
        )
    ])  # fmt: skip


@pytest.fixture(scope="module")
def connection(server, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("roi")
    overrides = json.dumps({"platform_fee_overrides": {ORG_B: "5.00"}})
    with built_warehouse(server, tmp_path, build_landing, AS_OF, "--vars", overrides) as built:
        yield built


def test_roi_by_organization_and_month(connection):
    rows = connection.execute(
        "select organization_id::text, month_start::text, total_developers, fee_source, "
        "platform_fee_per_developer_usd, platform_fee_usd, total_savings_usd, net_benefit_usd, "
        "roi_percentage, cumulative_savings_usd, cumulative_platform_fee_usd, "
        "cumulative_net_benefit_usd, payback_month::text "
        "from analytics.roi_summary order by organization_id, month_start"
    ).fetchall()

    d = Decimal
    assert rows == [
        (ORG_A, "2026-03-01", 2, "tier", d("19.00"), d("38.00"), d("20.00"), d("-18.00"),
         d("-47.37"), d("20.00"), d("38.00"), d("-18.00"), "2026-04-01"),
        (ORG_A, "2026-04-01", 2, "tier", d("19.00"), d("38.00"), d("60.00"), d("22.00"),
         d("57.89"), d("80.00"), d("76.00"), d("4.00"), "2026-04-01"),
        (ORG_B, "2026-03-01", 1, "override", d("5.00"), d("5.00"), d("0.00"), d("-5.00"),
         d("-100.00"), d("0.00"), d("5.00"), d("-5.00"), None),
    ]  # fmt: skip


def test_roi_savings_are_the_rollups(connection):
    """Every month's savings and developers are organization_analytics' monthly row's."""
    assert connection.execute(
        "select count(*), count(rollup.id) filter (where (rollup.total_savings_usd, "
        "rollup.total_developers) = (roi.total_savings_usd, roi.total_developers)) "
        "from analytics.roi_summary as roi left join analytics.organization_analytics as rollup "
        "on rollup.organization_id = roi.organization_id and rollup.metric_date = "
        "roi.month_start and rollup.aggregation_period = 'monthly'"
    ).fetchone() == (3, 3)
