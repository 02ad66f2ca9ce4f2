"""warehouse report: the executive report of organization A for April 2026 on the budgets'
hand-built warehouse (tests/test_budgets_and_invoices.py, as of April 15th), every number in it
read back from the page and compared with what the hand computation and the marts say.

April 1st to 14th: one completed openai_codex task a day (10 weekdays at 1.00, 4 weekend days
at 0.20): cost 10.80, baseline (github_copilot, three times as much) 32.40, savings 21.60 =
66.67 %, 14 tasks by one developer of team T1. Forecast 23.60 (savings twice that, 47.20);
budgets: the organization's 20.00 and T1's 12.00.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser

import dagster as dg
import psycopg
import pytest

from orchestration.defs.reports import executive_reports
from orchestration.defs.resources import AlertingResource, WarehouseResource
from tests.budgets import ORG, budgets_warehouse
from tests.test_notifications import http_server, mail_url, smtp_server
from warehouse.cli import main
from warehouse.report import money, percent


@pytest.fixture(scope="module")
def connection(server, budgets_template, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("report")
    with budgets_warehouse(server, tmp_path, budgets_template) as connection:
        yield connection


class Metrics(HTMLParser):
    """The (data-metric, text) pairs of a page, in order, and the tags it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._open = dict(attrs).get("data-metric")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.metrics.append((self._open, data))
            self._open = None


def test_every_number_of_the_report_is_the_marts(connection, tmp_path, capsys):
    out = tmp_path / "report.html"

    assert main(["report", "--org", ORG, "--month", "2026-04", "--out", str(out)]) == 0

    assert capsys.readouterr().out == f"wrote the 2026-04 executive report to {out}\n"
    page = out.read_text(encoding="utf-8")
    parser = Metrics()
    parser.feed(page)
    roi = connection.execute(
        "select platform_fee_usd, net_benefit_usd, roi_percentage, cumulative_net_benefit_usd, "
        "payback_month from analytics.roi_summary "
        "where organization_id = %s and month_start = '2026-04-01'",
        (ORG,),
    ).fetchone()
    fee, net, roi_percentage, cumulative, payback = roi
    assert parser.metrics == [
        ("total_savings_usd", "$21.60"), ("savings_percentage", "66.67 %"),
        ("total_cost_usd", "$10.80"), ("total_baseline_cost_usd", "$32.40"),
        ("total_tasks", "14"), ("completed_tasks", "14"), ("active_developers", "1"),
        ("provider_usage.openai_codex", "14"), ("provider_costs.openai_codex", "$10.80"),
        ("teams.total_tasks", "14"), ("teams.completed_tasks", "14"),
        ("teams.total_cost_usd", "$10.80"), ("teams.total_savings_usd", "$21.60"),
        ("platform_fee_usd", money(fee)), ("net_benefit_usd", money(net)),
        ("roi_percentage", percent(roi_percentage)),
        ("cumulative_net_benefit_usd", money(cumulative)),
        ("payback_month", payback.strftime("%B %Y") if payback else "not yet"),
        ("forecast_cost_usd", "$23.60"), ("forecast_savings_usd", "$47.20"),
        ("budgets.budget_usd", "$20.00"), ("budgets.spent_usd", "$10.80"),
        ("budgets.spent_percentage", "54.00 %"), ("budgets.forecast_spend_usd", "$23.60"),
        ("budgets.budget_usd", "$12.00"), ("budgets.spent_usd", "$10.80"),
        ("budgets.spent_percentage", "90.00 %"), ("budgets.forecast_spend_usd", "$23.60"),
    ]  # fmt: skip
    # self-contained: charts inline, nothing fetched, no script
    assert page.count("<svg") == 2
    assert "script" not in parser.tags
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []
    assert "None this month." in page  # no cost anomaly in April


def test_a_month_without_tasks_or_an_unknown_organization_says_what_to_do(
    connection, tmp_path, capsys
):
    out = tmp_path / "report.html"

    assert main(["report", "--org", ORG, "--month", "2025-01", "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: Org A has no tasks in 2025-01 (analytics.organization_analytics has no monthly "
        "row): pick another month\n"
    )
    assert main(["report", "--org", "nope", "--month", "2026-04", "--out", str(out)]) == 1
    assert "--org must be an organization id (a UUID), not 'nope'" in capsys.readouterr().err
    assert not out.exists()


def test_the_monthly_asset_writes_each_report_and_sends_each_digest_once(
    connection, tmp_path, monkeypatch
):
    """The Dagster asset for April 2026: organization A's report (B has no task in April),
    its digest with the report attached to a JSON endpoint and a mailbox, and a second run
    that writes the report again but sends nothing twice."""
    monkeypatch.setenv("WAREHOUSE_REPORTS_DIR", str(tmp_path / "reports"))
    with http_server([]) as (http_port, posts), smtp_server() as (smtp_port, mails):
        alerting = AlertingResource(
            alert_urls=f"json://127.0.0.1:{http_port}/digest {mail_url(smtp_port)}"
        )
        runs = [
            dg.materialize(
                [executive_reports],
                partition_key="2026-04-01",
                resources={"warehouse": WarehouseResource(), "alerting": alerting},
            )
            for _ in range(2)
        ]

    assert [run.success for run in runs] == [True, True]
    (report,) = (tmp_path / "reports" / "2026-04").iterdir()
    assert report.name == "org-a-0000000a.html"
    metadata = [
        {key: value.value for key, value in run.get_asset_materialization_events()[0]
         .materialization.metadata.items() if key.startswith(("reports", "digests"))}
        for run in runs
    ]  # fmt: skip
    assert metadata == [
        {"reports": 1, "digests_sent": 2, "digests_already_sent": 0, "digests_failed": 0},
        {"reports": 1, "digests_sent": 0, "digests_already_sent": 2, "digests_failed": 0},
    ]
    (post,) = posts
    assert post["title"] == "Org A: April 2026 on the AI routing platform"
    assert post["message"].startswith(
        "Savings $21.60 (66.67 % of the baseline cost $32.40); cost $10.80.\n"
        "14 tasks, 14 completed, by 1 developers.\n"
    )
    (attachment,) = post["attachments"]
    assert attachment["filename"] == "org-a-0000000a.html"
    assert base64.b64decode(attachment["base64"]) == report.read_bytes()
    (mail,) = mails
    assert [part.get_filename() for part in mail.walk() if part.get_filename()] == [
        "org-a-0000000a.html"
    ]


def test_the_monthly_schedule_writes_the_month_that_just_ended():
    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("monthly_reports_schedule")
    tick = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 1 * *", "UTC")
    assert request.partition_key == "2026-11-01"
