"""analytics.budget_status and analytics.invoice_reconciliation, worked out by hand.

Organization A has teams T1 (user U1, its lead) and T2 (user U2) and an admin without tasks;
organization B has an admin and no tasks. Prices:
github_copilot 0.00003 and openai_codex 0.00001 a token from 2020 on. The build runs as of
Wednesday 2026-04-15.

Tasks. U1: one completed openai_codex task a day from Monday 2026-03-02 to Tuesday 2026-04-14,
1.00 on weekdays and 0.20 on weekends: March (22 weekdays, 8 weekend days) 23.60, April 1st
to 14th (10 weekdays, 4 weekend days) 10.80; and a completed google_code_assist task on
March 5th without a price, at its reported cost 4.00. U2: a completed github_copilot task on
March 10th, 200,000 tokens = 6.00; a failed one on March 11th, 50,000 tokens = 1.50 (the
marts count completed tasks only); one on March 12th that ends before it starts
(quarantined, reported cost 2.00). A documentation-only github_copilot price for March,
created on April 5th, prices nothing but was created after it took effect.

Forecast as of April 15th (organization A and team T1 alike: U2's tasks are before the 28
days of history, March 18th to April 14th): weekdays 1.00, weekends 0.20, no residual; the 16
days left (12 weekdays, 4 weekend days) 12.80, so 10.80 + 12.80 = 23.60.

Budgets: A for April 20.00 (a first version said 10.00): spent 10.80 = 54.00 %, 50 %
reached, forecast 23.60 = 118.00 %, over. T1 for April 12.00: 90.00 %, 80 % reached, forecast
196.67 %. T2 for March 6.00: spent 6.00 = 100.00 %, a past month (forecast = spent, not
over). A for May 30.00: nothing spent, no forecast. Quarantined: an amount of 0, a month given
as April 15th, T1 under organization B, and an older April budget of A (replaced).

Invoices (tolerance: 1 % or 1.00): openai_codex for A in March 23.70 vs 23.60: matched;
github_copilot for the platform in March 9.50 vs 6.00: over by 3.50 (58.33 %), with the
quarantined task, the failed task and the price row as causes; google_code_assist in March
7.00 vs 4.00: over by 3.00 (75.00 %), one unpriced task; openai_codex for the platform in
March 20.00 vs 23.60: under by 3.60 (-15.25 %), no cause seen; openai_codex for A in April
30.00 vs 10.80: open; in EUR, and over a period starting at noon: not comparable.
Quarantined: a negative amount, an empty period, a currency that is no code, an unknown
organization, and an older record of the first invoice's number (replaced).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from tests.budgets import (
    ADMIN,
    ADMIN_B,
    ORG,
    ORG_B,
    TEAM1,
    TEAM2,
    U1,
    U2,
    UNKNOWN_ORG,
    budget,
    budgets_warehouse,
    invoice,
)
from tests.test_access_control import login
from warehouse.alerting import store
from warehouse.alerting.rules import budget_alerts, current_alerts, invoice_alerts


@pytest.fixture(scope="module")
def connection(server, budgets_template, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("budgets")
    with budgets_warehouse(server, tmp_path, budgets_template) as connection:
        yield connection


def test_each_budget_against_its_months_spend_and_forecast(connection):
    d = Decimal
    assert connection.execute(
        "select budget_id::text, team_id::text, budget_scope, month_start, month_status, "
        "budget_usd, spent_usd, spent_percentage, forecast_spend_usd, forecast_percentage, "
        "threshold_reached, is_forecast_over_budget from analytics.budget_status "
        "order by budget_id"
    ).fetchall() == [
        (budget(1), None, "organization", date(2026, 4, 1), "current", d("20.00"), d("10.80"),
         d("54.00"), d("23.60"), d("118.00"), 50, True),
        (budget(2), TEAM1, "team", date(2026, 4, 1), "current", d("12.00"), d("10.80"),
         d("90.00"), d("23.60"), d("196.67"), 80, True),
        (budget(3), TEAM2, "team", date(2026, 3, 1), "past", d("6.00"), d("6.00"), d("100.00"),
         d("6.00"), d("100.00"), 100, False),
        (budget(4), None, "organization", date(2026, 5, 1), "future", d("30.00"), 0, d("0.00"),
         None, None, None, False),
    ]  # fmt: skip


def test_broken_budgets_are_kept_with_their_reason_and_the_counts_reconcile(connection):
    assert connection.execute(
        "select record_id::text, reason, detail, regexp_replace(source_file, '.*/', ''), "
        "source_line "
        "from monitoring.quarantined_billing_records where table_name = 'budgets' "
        "order by record_id"
    ).fetchall() == [
        (budget(5), "non_positive_amount", "amount_usd must be positive, not 0",
         "budgets.csv", 7),
        (budget(6), "not_a_month_start",
         "budget_month must be the first day of a month (00:00 UTC), not 2026-04-15T00:00:00Z",
         "budgets.csv", 8),
        (budget(7), "team_of_another_organization",
         f"team {TEAM1} is not a team of organization {ORG_B}", "budgets.csv", 9),
        (budget(8), "replaced",
         f"replaced by budget {budget(1)}, updated later for the same scope and month",
         "budgets.csv", 10),
    ]  # fmt: skip
    assert connection.execute(
        "select source_line, field, reason from raw.rejected_rows where table_name = 'budgets'"
    ).fetchall() == [(11, "amount_usd", "not a number: lots")]
    assert connection.execute(
        "select (select count(distinct id) from raw.budgets), "
        "(select count(*) from analytics.budget_status), "
        "(select count(*) from monitoring.quarantined_billing_records "
        " where table_name = 'budgets')"
    ).fetchone() == (8, 4, 4)


def test_each_invoice_against_the_warehouses_cost_with_the_causes_it_sees(connection):
    d = Decimal
    rows = connection.execute(
        "select invoice_id, invoice_scope, currency, invoice_amount, warehouse_cost_usd, "
        "difference_usd, difference_percentage, status, not_compared_reason, unpriced_tasks, "
        "quarantined_tasks, not_completed_tasks, retroactive_price_rows, likely_causes "
        "from analytics.invoice_reconciliation order by invoice_id"
    ).fetchall()
    assert rows == [
        ("CX-03", "platform", "USD", d("20.00"), d("23.60"), d("-3.60"), d("-15.25"),
         "under_invoiced", None, 0, 0, 0, 0, None),
        ("CX-A-03", "organization", "USD", d("23.70"), d("23.60"), d("0.10"), d("0.42"),
         "matched", None, None, None, None, None, None),
        ("CX-A-03-EUR", "organization", "EUR", d("21.00"), d("23.60"), None, None,
         "not_comparable", "invoiced in EUR; the warehouse's costs are in USD",
         None, None, None, None, None),
        ("CX-A-03-NOON", "organization", "USD", d("23.00"), d("23.60"), None, None,
         "not_comparable", "the billing period does not start and end at 00:00 UTC",
         None, None, None, None, None),
        ("CX-A-04", "organization", "USD", d("30.00"), d("10.80"), d("19.20"), d("177.78"),
         "open", "the billing period has not ended", None, None, None, None, None),
        ("GH-03", "platform", "USD", d("9.50"), d("6.00"), d("3.50"), d("58.33"),
         "over_invoiced", None, 0, 1, 1, 1,
         "1 tasks in quarantine (reported cost $2.00); 1 failed or timed-out tasks with a "
         "cost the warehouse does not count ($1.50); 1 price rows for the period created "
         "after they took effect"),
        ("GO-03", "platform", "USD", d("7.00"), d("4.00"), d("3.00"), d("75.00"),
         "over_invoiced", None, 1, 0, 0, 0,
         "1 completed tasks not priced by the price list (their reported cost or none: "
         "$4.00)"),
    ]  # fmt: skip


def test_broken_invoices_are_kept_with_their_reason_and_the_counts_reconcile(connection):
    assert connection.execute(
        "select record_id::text, reason, detail, source_line "
        "from monitoring.quarantined_billing_records where table_name = 'provider_invoices' "
        "order by record_id"
    ).fetchall() == [
        (invoice(8), "negative_amount",
         "amount is negative (-5.00): credit notes are not reconciled", 9),
        (invoice(9), "empty_period", "billing_period_end is not after billing_period_start", 10),
        (invoice(10), "invalid_currency", "currency is not an ISO 4217 code: DOLLARS", 11),
        (invoice(11), "unknown_organization", f"no organization {UNKNOWN_ORG}", 12),
        (invoice(12), "replaced",
         f"replaced by invoice record {invoice(1)}, updated later with the same provider and "
         "invoice_id", 13),
    ]  # fmt: skip
    assert connection.execute(
        "select source_line, field from raw.rejected_rows where table_name = 'provider_invoices'"
    ).fetchall() == [(14, "billing_period_start")]
    assert connection.execute(
        "select (select count(distinct id) from raw.provider_invoices), "
        "(select count(*) from analytics.invoice_reconciliation), "
        "(select count(*) from monitoring.quarantined_billing_records "
        " where table_name = 'provider_invoices')"
    ).fetchone() == (12, 7, 5)


def test_budget_alerts_once_per_threshold_and_month(connection):
    alerts = budget_alerts(connection)

    assert [(a.rule, a.severity, a.subject, a.alert_date) for a in alerts] == [
        ("budget_spent_50", "info", f"organization {ORG}", date(2026, 4, 1)),
        ("budget_forecast_over", "warning", f"organization {ORG}", date(2026, 4, 1)),
        ("budget_spent_80", "warning", f"team {TEAM1}", date(2026, 4, 1)),
        ("budget_forecast_over", "warning", f"team {TEAM1}", date(2026, 4, 1)),
    ]
    assert alerts[0].message == (
        f"organization {ORG} has spent $10.80 of its $20.00 budget for 2026-04 (54.00 %), "
        "50 % reached"
    )
    assert alerts[3].message == (
        f"team {TEAM1} is forecast to spend $23.60 in 2026-04, 196.67 % of its $12.00 budget"
    )
    store.ensure_table(connection)
    first = store.record(connection, alerts)
    again = store.record(connection, budget_alerts(connection))
    assert (len(first), len(again)) == (4, 0)


def test_invoice_alerts_name_the_likely_causes(connection):
    alerts = invoice_alerts(connection)

    assert [(a.rule, a.severity, a.subject, a.alert_date) for a in alerts] == [
        ("invoice_mismatch", "warning", "github_copilot invoice GH-03", date(2026, 3, 1)),
        ("invoice_mismatch", "warning", "google_code_assist invoice GO-03", date(2026, 3, 1)),
        ("invoice_mismatch", "warning", "openai_codex invoice CX-03", date(2026, 3, 1)),
    ]
    assert alerts[2].message == (
        "openai_codex invoice CX-03 for the platform is $20.00 against the warehouse's $23.60 "
        "(under-invoiced, $-3.60, -15.25 %); likely causes: none the warehouse can see"
    )
    rules = {alert.rule for alert in current_alerts(connection)[0]}
    assert {"budget_spent_50", "budget_forecast_over", "invoice_mismatch"} <= rules


@pytest.mark.parametrize(
    ("role", "user", "budgets", "invoices"),
    [
        ("analytics_org_admin", ADMIN, [1, 2, 3, 4], ["CX-A-03", "CX-A-03-EUR", "CX-A-03-NOON",
                                                     "CX-A-04"]),
        ("analytics_team_lead", U1, [2], []),
        ("analytics_org_admin", ADMIN_B, [], []),
        ("analytics_developer", U2, [], []),
    ],
)  # fmt: skip
def test_each_reader_sees_its_budgets_and_invoices_only(connection, role, user, budgets, invoices):
    with login(role) as reader:
        reader.execute("select set_config('app.user_id', %s, false)", (user,))
        assert [row[0] for row in reader.execute(
            "select budget_id::text from analytics.budget_status order by budget_id"
        )] == [budget(number) for number in budgets]  # fmt: skip
        assert [row[0] for row in reader.execute(
            "select invoice_id from analytics.invoice_reconciliation order by invoice_id"
        )] == invoices  # fmt: skip
