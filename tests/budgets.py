"""The budgets' hand-built warehouse, shared by the tests of budgets and invoices
(tests/test_budgets_and_invoices.py, whose docstring works out every number), the executive
report and the dashboard; built once per pytest process (fixture budgets_template) and copied
for each test module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg

from tests.conftest import create_database, database_environment, database_for_module, drop_database
from tests.handbuilt import write, write_prices
from warehouse import settings
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths

ORG, ORG_B = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
TEAM1, TEAM2 = "000000f1-0000-4000-8000-000000000000", "000000f2-0000-4000-8000-000000000000"
U1, U2 = "000000a1-0000-4000-8000-000000000000", "000000a2-0000-4000-8000-000000000000"
AS_OF = "2026-04-15T00:00:00+00:00"
UNKNOWN_ORG = "0000000c-0000-4000-8000-000000000000"
ADMIN, ADMIN_B = "000000a3-0000-4000-8000-000000000000", "000000b1-0000-4000-8000-000000000000"


def budget(number: int) -> str:
    return f"b0000000-0000-4000-8000-{number:012d}"


def invoice(number: int) -> str:
    return f"c0000000-0000-4000-8000-{number:012d}"


def task(number: int, user: str, provider: str, day: str, tokens: int, status="completed",
         **fields: object) -> dict[str, object]:  # fmt: skip
    return {
        "id": f"00000000-0000-4000-8000-{number:012d}", "task_id": f"t{number}",
        "user_id": user, "organization_id": ORG, "task_type": "feature", "provider": provider,
        "start_time": f"{day}T10:00:00Z", "end_time": f"{day}T10:01:00Z",
        "tokens_used": tokens, "cost_usd": "", "status": status,
        "updated_at": f"{day}T10:01:00Z", **fields,
    }  # fmt: skip


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG, "name": "Org A"}, {"id": ORG_B, "name": "Org B"},
    ])  # fmt: skip
    write(landing / "teams.csv", [
        {"id": TEAM1, "organization_id": ORG, "name": "T1"},
        {"id": TEAM2, "organization_id": ORG, "name": "T2"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": user, "organization_id": org, "team_id": team, "name": name, "role": role,
         "created_at": "2020-01-01T00:00:00Z"}
        for user, org, team, name, role in (
            (U1, ORG, TEAM1, "Ada", "team_lead"), (U2, ORG, TEAM2, "Bob", "developer"),
            (ADMIN, ORG, "", "Cy", "org_admin"), (ADMIN_B, ORG_B, "", "Di", "org_admin"),
        )
    ])  # fmt: skip
    write_prices(landing)
    write(landing / "provider_pricing__retroactive.csv", [
        {"id": "10000000-0000-4000-8000-000000000009", "provider": "github_copilot",
         "task_type": "documentation", "cost_per_token": "0.00005",
         "effective_from": "2026-03-01T00:00:00Z", "effective_until": "2026-04-01T00:00:00Z",
         "created_at": "2026-04-05T00:00:00Z"},
    ])  # fmt: skip
    days = [date(2026, 3, 2) + timedelta(days=n) for n in range(44)]  # to April 14th
    tasks = [
        task(number, U1, "openai_codex", str(day), 100_000 if day.isoweekday() <= 5 else 20_000)
        for number, day in enumerate(days)
    ]
    tasks += [
        task(100, U1, "google_code_assist", "2026-03-05", 1_000, cost_usd="4.00"),
        task(101, U2, "github_copilot", "2026-03-10", 200_000),
        task(102, U2, "github_copilot", "2026-03-11", 50_000, status="failed"),
        task(103, U2, "github_copilot", "2026-03-12", 1_000, cost_usd="2.00",
             end_time="2026-03-12T09:00:00Z"),
    ]  # fmt: skip
    write(landing / "task_executions.csv", tasks)
    write(landing / "budgets.csv", [
        {"id": budget(1), "organization_id": ORG, "team_id": "", "budget_month": "2026-04-01",
         "amount_usd": "10.00", "updated_at": "2026-03-20T00:00:00Z"},
        {"id": budget(1), "organization_id": ORG, "team_id": "", "budget_month": "2026-04-01",
         "amount_usd": "20.00", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(2), "organization_id": ORG, "team_id": TEAM1, "budget_month": "2026-04-01",
         "amount_usd": "12.00", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(3), "organization_id": ORG, "team_id": TEAM2, "budget_month": "2026-03-01",
         "amount_usd": "6.00", "updated_at": "2026-02-25T00:00:00Z"},
        {"id": budget(4), "organization_id": ORG, "team_id": "", "budget_month": "2026-05-01",
         "amount_usd": "30.00", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(5), "organization_id": ORG_B, "team_id": "", "budget_month": "2026-04-01",
         "amount_usd": "0", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(6), "organization_id": ORG_B, "team_id": "", "budget_month": "2026-04-15",
         "amount_usd": "5.00", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(7), "organization_id": ORG_B, "team_id": TEAM1, "budget_month": "2026-04-01",
         "amount_usd": "5.00", "updated_at": "2026-03-25T00:00:00Z"},
        {"id": budget(8), "organization_id": ORG, "team_id": "", "budget_month": "2026-04-01",
         "amount_usd": "15.00", "updated_at": "2026-03-01T00:00:00Z"},
        {"id": budget(9), "organization_id": ORG, "team_id": "", "budget_month": "2026-06-01",
         "amount_usd": "lots", "updated_at": "2026-03-25T00:00:00Z"},
    ])  # fmt: skip
    march = {"billing_period_start": "2026-03-01", "billing_period_end": "2026-04-01",
             "currency": "USD", "updated_at": "2026-04-02T00:00:00Z"}  # fmt: skip
    write(landing / "provider_invoices.csv", [
        {"id": invoice(1), "invoice_id": "CX-A-03", "provider": "openai_codex",
         "organization_id": ORG, **march, "amount": "23.70"},
        {"id": invoice(2), "invoice_id": "GH-03", "provider": "github_copilot",
         "organization_id": "", **march, "amount": "9.50"},
        {"id": invoice(3), "invoice_id": "GO-03", "provider": "google_code_assist",
         "organization_id": "", **march, "amount": "7.00"},
        {"id": invoice(4), "invoice_id": "CX-03", "provider": "openai_codex",
         "organization_id": "", **march, "amount": "20.00"},
        {"id": invoice(5), "invoice_id": "CX-A-04", "provider": "openai_codex",
         "organization_id": ORG, **march, "billing_period_start": "2026-04-01",
         "billing_period_end": "2026-05-01", "amount": "30.00"},
        {"id": invoice(6), "invoice_id": "CX-A-03-EUR", "provider": "openai_codex",
         "organization_id": ORG, **march, "currency": "eur", "amount": "21.00"},
        {"id": invoice(7), "invoice_id": "CX-A-03-NOON", "provider": "openai_codex",
         "organization_id": ORG, **march, "billing_period_start": "2026-03-01T12:00:00Z",
         "amount": "23.00"},
        {"id": invoice(8), "invoice_id": "NEG", "provider": "openai_codex",
         "organization_id": ORG, **march, "amount": "-5.00"},
        {"id": invoice(9), "invoice_id": "EMPTY", "provider": "openai_codex",
         "organization_id": ORG, **march, "billing_period_end": "2026-03-01", "amount": "5.00"},
        {"id": invoice(10), "invoice_id": "DOLLARS", "provider": "openai_codex",
         "organization_id": ORG, **march, "currency": "dollars", "amount": "5.00"},
        {"id": invoice(11), "invoice_id": "WHO", "provider": "openai_codex",
         "organization_id": UNKNOWN_ORG, **march, "amount": "5.00"},
        {"id": invoice(12), "invoice_id": "CX-A-03", "provider": "openai_codex",
         "organization_id": ORG, **march, "updated_at": "2026-04-01T00:00:00Z",
         "amount": "99.00"},
        {"id": invoice(13), "invoice_id": "BAD", "provider": "openai_codex",
         "organization_id": ORG, **march, "billing_period_start": "March", "amount": "5.00"},
    ])  # fmt: skip


@contextmanager
def build_budgets(server: settings.ConnectionSettings, tmp_path: Path) -> Iterator[str]:
    """A database holding the warehouse above, loaded and built as of AS_OF, with no session
    left, so that it can serve as a template; yields its name; dropped afterwards."""
    name = create_database(server)
    try:
        with database_environment(server, name, tmp_path) as connection:
            build_landing(tmp_path / "landing")
            load_paths(connection, [tmp_path / "landing"])
            run_dbt(["build"], as_of=AS_OF)
        yield name
    finally:
        drop_database(server, name)


@contextmanager
def budgets_warehouse(
    server: settings.ConnectionSettings, tmp_path: Path, template: str
) -> Iterator[psycopg.Connection]:
    """A copy of the built warehouse (``template``: fixture budgets_template); dropped
    afterwards."""
    with database_for_module(server, tmp_path, template=template) as connection:
        yield connection
