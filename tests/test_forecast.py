"""analytics.savings_forecast and monitoring.forecast_backtest, worked out by hand.

One organization, one completed openai_codex task a day (0.00001/token; the baseline,
github_copilot, costs three times as much: savings = 2 x cost), from Monday 2026-03-02 to
Tuesday 2026-04-14: 1.00 on weekdays, 0.20 on weekends, except Wednesday 2026-03-25: 1.70.
The build runs as of Wednesday 2026-04-15.

Forecast on April 15th: history March 18th to April 14th (28 days). Wednesdays 03-18, 03-25,
04-01, 04-08 average (1.70 + 3 x 1.00) / 4 = 1.175; other weekdays 1.00, weekends 0.20.
Residuals: 0.525 and three -0.175 (Wednesdays), 0 elsewhere: s = sqrt(0.3675 / 27) = 7 / 60.
April 1st to 14th (a Wednesday to a Tuesday): 10 weekdays + 4 weekend days = 10.80. The 16 days
left (15th to 30th): 3 Wednesdays x 1.175 + 9 other weekdays + 4 weekend days x 0.20 = 13.325.
Forecast 24.125 -> 24.13; half interval 1.96 x 7/60 x sqrt(28/21 x (16 + 16^2/28)) = 1.323974:
22.80 to 25.45. Savings twice that: 48.25, 45.60 to 50.90 (month to date 21.60).

Backtest: March is the only finished month; its days with 28 days of history are the 30th
and the 31st. March actual: 20 weekdays and 8 weekend days from the 2nd to the 29th, plus the
extra 0.70, plus Monday 30th and Tuesday 31st: 22.30 + 2.00 = 24.30. On the 30th: 22.30 known
+ Monday and Tuesday at 1.00 = 24.30, half interval 1.96 x 7/60 x sqrt(4/3 x (2 + 4/28)) =
0.386518: 23.91 to 24.69. On the 31st: 23.30 + 1.00, half 1.96 x 7/60 x sqrt(4/3 x (1 + 1/28))
= 0.268711: 24.03 to 24.57. Both exact (error 0) and inside their interval.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.handbuilt import built_warehouse, write, write_prices
from warehouse.demo import print_insights

ORG, USER = "0000000a-0000-4000-8000-000000000000", "000000a1-0000-4000-8000-000000000000"
AS_OF = "2026-04-15T00:00:00+00:00"


def tokens_on(day: date) -> int:
    if day == date(2026, 3, 25):
        return 170_000
    return 100_000 if day.isoweekday() <= 5 else 20_000


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [{"id": ORG, "name": "Org A"}])
    write(landing / "users.csv", [
        {"id": USER, "organization_id": ORG, "name": "Ada", "created_at": "2020-01-01T00:00:00Z"}
    ])  # fmt: skip
    write_prices(landing)
    days = [date(2026, 3, 2) + timedelta(days=n) for n in range(44)]  # to April 14th
    write(landing / "task_executions.csv", [
        {"id": f"00000000-0000-4000-8000-{number:012d}", "task_id": f"t{number}",
         "user_id": USER, "organization_id": ORG, "task_type": "feature",
         "provider": "openai_codex", "start_time": f"{day}T10:00:00Z",
         "end_time": f"{day}T10:01:00Z", "tokens_used": tokens_on(day), "status": "completed",
         "updated_at": f"{day}T10:01:00Z"}
        for number, day in enumerate(days)
    ])  # fmt: skip


@pytest.fixture(scope="module")
def connection(server, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("forecast")
    with built_warehouse(server, tmp_path, build_landing, AS_OF) as connection:
        yield connection


def test_the_month_end_forecast_and_its_interval(connection):
    d = Decimal
    assert connection.execute(
        "select organization_id::text, forecast_date, month_start, history_days, "
        "days_remaining, month_to_date_cost_usd, forecast_cost_usd, forecast_cost_low_usd, "
        "forecast_cost_high_usd, month_to_date_savings_usd, forecast_savings_usd, "
        "forecast_savings_low_usd, forecast_savings_high_usd from analytics.savings_forecast"
    ).fetchall() == [
        (ORG, date(2026, 4, 15), date(2026, 4, 1), 28, 16, d("10.80"), d("24.13"), d("22.80"),
         d("25.45"), d("21.60"), d("48.25"), d("45.60"), d("50.90")),
    ]  # fmt: skip


def test_the_backtest_forecasts_every_day_with_history_of_each_finished_month(connection):
    d = Decimal
    assert connection.execute(
        "select forecast_date, days_remaining, forecast_cost_usd, forecast_cost_low_usd, "
        "forecast_cost_high_usd, actual_cost_usd, cost_absolute_percentage_error, "
        "cost_in_interval, actual_savings_usd, savings_in_interval "
        "from monitoring.forecast_backtest order by forecast_date"
    ).fetchall() == [
        (date(2026, 3, 30), 2, d("24.30"), d("23.91"), d("24.69"), d("24.30"), d("0.00"), True,
         d("48.60"), True),
        (date(2026, 3, 31), 1, d("24.30"), d("24.03"), d("24.57"), d("24.30"), d("0.00"), True,
         d("48.60"), True),
    ]  # fmt: skip


def test_the_demo_prints_the_forecast_and_says_when_there_is_nothing_else(connection, capsys):
    print_insights(connection)

    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    cells = [re.split(r" {2,}", line) for line in lines if line and set(line) != {"-", " "}]
    assert cells == [
        ["Month-end forecast, 95 % interval (analytics.savings_forecast):"],
        ["organization", "cost", "cost interval", "savings", "savings interval"],
        ["Org A", "$24.13", "$22.80 to $25.45", "$48.25", "$45.60 to $50.90"],
        ["Cost anomalies (analytics.cost_anomalies), latest first: none"],
        ["Routing recommendations (analytics.routing_recommendations), best first: none"],
        ["Budgets this month (analytics.budget_status): none"],
        ["Provider invoices against the warehouse (analytics.invoice_reconciliation): none"],
    ]
