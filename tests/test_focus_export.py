"""warehouse export focus: a month's costs in FOCUS 1.2 columns, worked out by hand.

Organization A: U1 in team T1, U2 in no team; organization B: U3. Prices per token from 2020:
github_copilot 0.00003, openai_codex 0.00001, and for openai_codex test tasks 0.00002 plus
0.01 a request. November 2026's completed tasks: on the 3rd, U1's two openai_codex feature
tasks (100,000 and 50,000 tokens: 1.00 + 0.50, one charge) and U2's github_copilot bug fix
(10,000 tokens: 0.30); on the 4th, U1's openai_codex test task (10,000 tokens: 0.20 + 0.01 =
0.21, no single unit price); on the 30th at 23:30, U3's openai_codex feature (20,000 tokens:
0.20). Not in the file: a failed task, a task on October 31st at 23:59 and one on December 1st
at 00:00. Total 2.21 = organization A's 2.01 + organization B's 0.20 (the monthly rollup's).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from tests.handbuilt import PRICES, built_warehouse, write, write_prices
from warehouse.cli import main
from warehouse.export.focus import COLUMN_NAMES

ORG_A, ORG_B = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
T1 = "000000f1-0000-4000-8000-000000000000"
U1, U2, U3 = (f"000000a{n}-0000-4000-8000-000000000000" for n in (1, 2, 3))
COPILOT_PRICE, CODEX_PRICE = (f"10000000-0000-4000-8000-00000000000{n}" for n in (1, 2))
CODEX_TEST_PRICE = "10000000-0000-4000-8000-000000000009"
AS_OF = "2026-12-02T00:00:00+00:00"


def task(number: int, user: str, org: str, provider: str, task_type: str, start: str,
         tokens: int, status: str = "completed") -> dict[str, object]:  # fmt: skip
    end = (datetime.fromisoformat(start) + timedelta(minutes=1)).isoformat()
    return {
        "id": f"00000000-0000-4000-8000-{number:012d}", "task_id": f"t{number}",
        "user_id": user, "organization_id": org, "task_type": task_type,
        "provider": provider, "start_time": start, "end_time": end, "tokens_used": tokens,
        "status": status, "updated_at": end,
    }  # fmt: skip


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A"}, {"id": ORG_B, "name": "Org B"},
    ])  # fmt: skip
    write(landing / "teams.csv", [{"id": T1, "organization_id": ORG_A, "name": "T1"}])
    write(landing / "users.csv", [
        {"id": user, "organization_id": org, "team_id": team, "name": user[:8],
         "created_at": "2020-01-01T00:00:00Z"}
        for user, org, team in ((U1, ORG_A, T1), (U2, ORG_A, ""), (U3, ORG_B, ""))
    ])  # fmt: skip
    write_prices(landing)
    write(landing / "provider_pricing__test.csv", [
        {"id": CODEX_TEST_PRICE, "provider": "openai_codex", "task_type": "test",
         "cost_per_token": "0.00002", "cost_per_request": "0.01",
         "effective_from": "2020-01-01T00:00:00Z"},
    ])  # fmt: skip
    write(landing / "task_executions.csv", [
        task(1, U1, ORG_A, "openai_codex", "feature", "2026-11-03T10:00:00Z", 100_000),
        task(2, U1, ORG_A, "openai_codex", "feature", "2026-11-03T15:00:00Z", 50_000),
        task(3, U2, ORG_A, "github_copilot", "bug_fix", "2026-11-03T11:00:00Z", 10_000),
        task(4, U1, ORG_A, "openai_codex", "test", "2026-11-04T10:00:00Z", 10_000),
        task(5, U3, ORG_B, "openai_codex", "feature", "2026-11-30T23:30:00Z", 20_000),
        task(6, U1, ORG_A, "openai_codex", "feature", "2026-11-05T10:00:00Z", 10_000, "failed"),
        task(7, U1, ORG_A, "openai_codex", "feature", "2026-10-31T23:59:00Z", 10_000),
        task(8, U1, ORG_A, "openai_codex", "feature", "2026-12-01T00:00:00Z", 10_000),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def connection(server, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("focus")
    with built_warehouse(server, tmp_path, build_landing, AS_OF) as connection:
        yield connection


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def day(text: str) -> str:
    return f"2026-{text}T00:00:00Z"


def test_the_months_charges_in_focus_columns(connection, tmp_path, capsys):
    out = tmp_path / "focus.csv"

    assert main(["export", "focus", "--month", "2026-11", "--out", str(out)]) == 0

    assert capsys.readouterr().out == (
        f"wrote 4 FOCUS 1.2 rows for 2026-11 to {out} (billed cost 2.210000 USD)\n"
    )
    rows = read_csv(out)
    assert tuple(rows[0]) == COLUMN_NAMES
    picked = [
        (row["ChargePeriodStart"], row["ChargePeriodEnd"], row["SubAccountName"],
         row["ServiceName"], row["x_TaskType"], row["x_TeamId"], row["BilledCost"],
         row["EffectiveCost"], row["ConsumedQuantity"], row["ContractedUnitPrice"],
         row["SkuPriceId"], row["x_TaskCount"])
        for row in rows
    ]  # fmt: skip
    assert picked == [
        (day("11-03"), day("11-04"), "Org A", "GitHub Copilot", "bug_fix", "", "0.300000",
         "0.300000", "10000", PRICES["github_copilot"], COPILOT_PRICE, "1"),
        (day("11-03"), day("11-04"), "Org A", "OpenAI Codex", "feature", T1, "1.500000",
         "1.500000", "150000", PRICES["openai_codex"], CODEX_PRICE, "2"),
        (day("11-04"), day("11-05"), "Org A", "OpenAI Codex", "test", T1, "0.210000",
         "0.210000", "10000", "", CODEX_TEST_PRICE, "1"),
        (day("11-30"), day("12-01"), "Org B", "OpenAI Codex", "feature", "", "0.200000",
         "0.200000", "20000", PRICES["openai_codex"], CODEX_PRICE, "1"),
    ]  # fmt: skip
    first = rows[1]
    assert {name: first[name] for name in (
        "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
        "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ConsumedUnit",
        "PricingUnit", "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceCategory",
        "SubAccountId", "SubAccountType", "SkuId",
    )} == {
        "BillingAccountId": "generic-corp-platform", "BillingCurrency": "USD",
        "BillingPeriodStart": day("11-01"), "BillingPeriodEnd": day("12-01"),
        "ChargeCategory": "Usage", "ChargeClass": "",
        "ChargeDescription": "2 completed feature tasks on OpenAI Codex, 150000 tokens",
        "ChargeFrequency": "Usage-Based", "ConsumedUnit": "Tokens", "PricingUnit": "Tokens",
        "ProviderName": "OpenAI", "PublisherName": "OpenAI", "InvoiceIssuerName": "OpenAI",
        "ServiceCategory": "AI and Machine Learning", "SubAccountId": ORG_A,
        "SubAccountType": "Organization", "SkuId": "openai_codex:feature",
    }  # fmt: skip
    assert json.loads(first["Tags"]) == {"task_type": "feature", "team": "T1", "team_id": T1}
    assert json.loads(rows[0]["Tags"]) == {"task_type": "bug_fix"}


def test_the_files_total_is_the_marts(connection, tmp_path):
    out = tmp_path / "focus.csv"
    assert main(["export", "focus", "--month", "2026-11", "--out", str(out)]) == 0

    (marts,) = connection.execute(
        "select sum(total_cost_usd) from analytics.organization_analytics "
        "where aggregation_period = 'monthly' and metric_date = '2026-11-01'"
    ).fetchone()
    assert sum(Decimal(row["BilledCost"]) for row in read_csv(out)) == marts == Decimal("2.21")


def test_one_organization_in_parquet(connection, tmp_path):
    out = tmp_path / "focus.parquet"

    assert main(["export", "focus", "--month", "2026-11", "--org", ORG_B, "--out", str(out)]) == 0

    table = pq.read_table(out)
    assert tuple(table.column_names) == COLUMN_NAMES
    assert table.schema.metadata[b"focus_version"] == b"1.2"
    (row,) = table.to_pylist()
    assert (row["SubAccountId"], row["BilledCost"], row["ChargePeriodStart"]) == (
        ORG_B,
        Decimal("0.200000"),
        datetime(2026, 11, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--month", "2026-13"], "error: --month must be YYYY-MM, like 2026-11, not '2026-13'"),
        (["--month", "2026-11", "--org", "A"],
         "error: --org must be an organization id (a UUID), not 'A'"),
        (["--month", "2026-11", "--org", "0000000c-0000-4000-8000-000000000000"],
         "error: no organization 0000000c-0000-4000-8000-000000000000 in "
         "analytics.organizations (is the id right, and the warehouse built?)"),
    ],
)  # fmt: skip
def test_bad_requests_say_what_is_wrong_and_write_nothing(
    connection, tmp_path, capsys, arguments, message
):
    out = tmp_path / "focus.csv"

    assert main(["export", "focus", *arguments, "--out", str(out)]) == 1

    assert capsys.readouterr().err.strip() == message
    assert not out.exists()


def test_an_unknown_file_type_is_refused(connection, tmp_path, capsys):
    assert main(["export", "focus", "--month", "2026-11", "--out", str(tmp_path / "x.xlsx")]) == 1
    assert "--out must end in .csv or .parquet" in capsys.readouterr().err
