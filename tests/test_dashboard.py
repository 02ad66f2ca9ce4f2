"""The dashboard (warehouse/dashboard/app.py), started with `streamlit run` on the budgets'
hand-built warehouse (tests/test_budgets_and_invoices.py) and driven in a real headless
Chromium (Debian's `chromium`, through Playwright): the numbers shown are the marts', the log's
filters change it, and each viewer sees only their rows.

April 2026 (`?month=2026-04`): organization A's only tasks are team lead Ada's (team T1), one a
day: cost 10.80, baseline 32.40, savings 21.60 (66.67 %), 14 tasks. Ada's 45 tasks in all (44
openai_codex, one google_code_assist) and Bob's 2 github_copilot ones (one completed, one
failed; his third is quarantined) make 47 tasks in the marts. One more task of Ada's started 40
seconds ago and landed after the build: the live layer counts its savings (100,000 tokens:
openai_codex 1.00 against github_copilot's 3.00, so 2.00) in today's savings.

Set WAREHOUSE_SCREENSHOTS_DIR to keep a screenshot of each page (the README's come from here).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.budgets import ADMIN, ADMIN_B, ORG, U1, U2, budgets_warehouse
from tests.handbuilt import write
from warehouse import settings
from warehouse.dashboard import data
from warehouse.dashboard.tables import html_table
from warehouse.ingest.loader import load_paths

APP = settings.project_dir() / "warehouse" / "dashboard" / "app.py"
# As Chromium runs on a machine without a network, and as root in CI.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
RENDERED = '[data-testid="stMetricValue"], table.rows, [data-testid="stAlert"]'


@pytest.fixture(scope="module")
def warehouse(server, budgets_template, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("dashboard")
    with budgets_warehouse(server, tmp_path, budgets_template) as connection:
        # inside today whatever the hour (but in the first 40 s after midnight UTC)
        started = (datetime.now(UTC) - timedelta(seconds=40)).replace(microsecond=0)
        ended = started + timedelta(seconds=10)
        live = tmp_path / "live"
        live.mkdir()
        write(live / "task_executions__live.csv", [{
            "id": "00000000-0000-4000-8000-000000000900", "task_id": "t-live", "user_id": U1,
            "organization_id": ORG, "task_type": "feature", "provider": "openai_codex",
            "start_time": started.isoformat(), "end_time": ended.isoformat(),
            "tokens_used": 100_000, "status": "completed", "updated_at": ended.isoformat(),
        }])  # fmt: skip
        load_paths(connection, [live])
        yield connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(warehouse, tmp_path_factory) -> Iterator[str]:
    """`streamlit run` on the test warehouse (the libpq variables point at it)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false"],
            env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log_path.read_text()}") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def settle(page: Page) -> None:
    """Wait until the app has rendered and finished running its script."""
    page.wait_for_selector(RENDERED, timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(300)


def open_page(browser: Browser, url: str, name: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    settle(page)
    if directory := os.environ.get("WAREHOUSE_SCREENSHOTS_DIR"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
    return page


def metrics(page: Page) -> dict[str, str]:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def metric_value(page: Page, label: str) -> Locator:
    return (
        page.locator('[data-testid="stMetric"]')
        .filter(has_text=label)
        .locator('[data-testid="stMetricValue"]')
    )


def table(page: Page, number: int = 0) -> list[list[str]]:
    rows = page.locator("table.rows").nth(number).locator("tbody tr")
    return [row.locator("td").all_inner_texts() for row in rows.all()]


def caption(page: Page) -> str:
    return page.locator('[data-testid="stCaptionContainer"]').last.inner_text().strip()


def pick(page: Page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(300)
    settle(page)


def test_the_savings_widget_shows_the_marts_and_the_live_layer(browser, app_url, warehouse):
    page = open_page(browser, f"{app_url}/?viewer={ADMIN}&month=2026-04", "savings")

    assert metrics(page) == {
        "Savings today (live)": "$2.00", "Savings in April 2026": "$21.60",
        "Savings %": "66.67 %", "Cost": "$10.80", "Baseline cost": "$32.40", "Tasks": "14",
    }  # fmt: skip
    assert warehouse.execute(
        "select round(sum(total_savings_usd), 2) from analytics.user_analytics "
        "where aggregation_period = 'monthly' and metric_date = '2026-04-01'"
    ).fetchone() == (Decimal("21.60"),)
    assert warehouse.execute(
        "select total_savings_usd from analytics.live_savings_today"
    ).fetchall() == [(Decimal("2.00"),)]


def test_the_log_pages_and_its_filters_change_it(browser, app_url):
    page = open_page(browser, f"{app_url}/log?viewer={ADMIN}", "log")
    assert caption(page) == "47 tasks, page 1 of 2"
    assert len(table(page)) == 25

    pick(page, "Provider", "github_copilot")
    assert caption(page) == "2 tasks, page 1 of 1"
    assert {(row[2], row[4]) for row in table(page)} == {("Bob", "github_copilot")}

    pick(page, "Status", "failed")
    assert caption(page) == "1 task, page 1 of 1"
    ((task, _, user, task_type, provider, status, cost, savings),) = table(page)
    assert (task, user, task_type, provider, status, cost, savings) == (
        "t102",
        "Bob",
        "feature",
        "github_copilot",
        "failed",
        "$1.50",
        "$0.00",
    )


def sidebar_options(page: Page, label: str) -> list[str]:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [option.strip() for option in options]


def test_the_viewer_is_picked_by_organization_then_person(browser, app_url):
    page = open_page(browser, f"{app_url}/log?viewer={ADMIN}", "log-picker")
    assert caption(page) == "47 tasks, page 1 of 2"
    # only the chosen organization's people are offered
    assert sidebar_options(page, "Viewing as") == [
        "Bob (developer, Org A)", "Cy (org admin, Org A)", "Ada (team lead, Org A)",
    ]  # fmt: skip

    pick(page, "Organization", "Org B")
    assert sidebar_options(page, "Viewing as") == ["Di (org admin, Org B)"]
    assert f"viewer={ADMIN_B}" in page.url
    assert caption(page) == "0 tasks, page 1 of 1"

    pick(page, "Organization", "Org A")
    pick(page, "Viewing as", "Bob (developer, Org A)")
    assert f"viewer={U2}" in page.url
    assert caption(page) == "2 tasks, page 1 of 1"


def test_each_viewer_sees_only_their_rows(browser, app_url):
    developer = open_page(browser, f"{app_url}/log?viewer={U2}", "log-developer")
    assert caption(developer) == "2 tasks, page 1 of 1"
    assert {row[2] for row in table(developer)} == {"Bob"}

    lead = open_page(browser, f"{app_url}/log?viewer={U1}", "log-team-lead")
    assert caption(lead) == "45 tasks, page 1 of 2"

    summary = open_page(browser, f"{app_url}/summary?viewer={U2}&month=2026-04", "summary-dev")
    assert "for its organization admins" in summary.locator('[data-testid="stAlert"]').inner_text()


def test_providers_teams_summary_and_roi_pages(browser, app_url, warehouse):
    providers = open_page(browser, f"{app_url}/providers?viewer={ADMIN}&month=2026-04",
                          "providers")  # fmt: skip
    assert table(providers, 0) == [["openai_codex", "14"]]
    assert [row[0] for row in table(providers, 1)] == ["openai_codex"]

    teams = open_page(browser, f"{app_url}/teams?viewer={ADMIN}", "teams")
    assert [row[1] for row in table(teams)] == ["Ada"]

    summary = open_page(browser, f"{app_url}/summary?viewer={ADMIN}&month=2026-04", "summary")
    roi = warehouse.execute(
        "select roi_percentage from analytics.roi_summary "
        "where organization_id = %s and month_start = '2026-04-01'",
        (ORG,),
    ).fetchone()[0]
    shown = metrics(summary)
    assert (shown["Savings"], shown["Savings %"], shown["Cost"]) == ("$21.60", "66.67 %", "$10.80")
    assert shown["ROI"] == (f"{roi:,.2f} %" if roi is not None else "-")

    calculator = open_page(browser, f"{app_url}/roi?viewer={ADMIN}&month=2026-04", "roi")
    platform_fee = metric_value(calculator, "Platform fee")
    before = platform_fee.inner_text()
    fee = calculator.get_by_label("Platform fee per developer and month, USD")
    fee.fill("5")
    fee.press("Enter")
    # each input reruns the app: the next is typed once the first has been taken in (typed
    # during the rerun, it was lost on a busy machine)
    expect(platform_fee).not_to_have_text(before, timeout=30_000)
    developers = calculator.get_by_label("Developers")
    developers.fill("2")
    developers.press("Enter")
    expect(platform_fee).to_have_text("$10.00", timeout=30_000)
    settle(calculator)
    shown = metrics(calculator)
    # 21.60 of savings against 2 x 5.00: net 11.60, ROI 116 %
    assert (shown["Platform fee"], shown["Net benefit"], shown["ROI"]) == (
        "$10.00",
        "$11.60",
        "116.00 %",
    )


def test_a_team_leads_log_reads_each_members_newest_tasks_and_pages_like_the_marts(warehouse):
    """A team lead's log merges each member's newest tasks (data.task_log's per-user read): its
    pages, with and without a filter, are the marts' tasks of the team in the log's order."""
    lead = data.Viewer(UUID(U1), "Ada", "team_lead", "Org A")
    team_tasks = """
        select task_id from analytics.task_executions
        where user_id in (select id from analytics.users where team_id = (
            select team_id from analytics.users where id = %(lead)s))
            and (%(provider)s::text is null or provider = %(provider)s)
        order by start_time desc, task_id
    """
    for provider, count in ((None, 45), ("openai_codex", 44)):
        shown = []
        for page in (1, 2):
            with data.as_viewer(lead) as connection:
                total, rows = data.task_log(connection, data.LogFilter(provider=provider), page)
            assert total == count
            shown += [row["task_id"] for row in rows]
        expected = [row[0] for row in warehouse.execute(
            team_tasks, {"lead": U1, "provider": provider}
        )]  # fmt: skip
        assert len(shown) == count
        assert shown == expected


def test_streamlit_runs_the_app_without_a_full_collection_after_each_click(tmp_path, monkeypatch):
    """`streamlit run warehouse/dashboard/app.py`, from any directory, reads the app's own
    .streamlit/config.toml: no full garbage collection after each script run (100 ms a click,
    docs/dashboard.md)."""
    from streamlit import config

    monkeypatch.chdir(tmp_path)  # not the project root
    monkeypatch.setattr(config, "_main_script_path", str(APP))  # what `streamlit run APP` sets
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_option("browser.gatherUsageStats") is False
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)


def test_a_table_escapes_its_values_and_keeps_its_head_with_no_rows():
    text = html_table(("user", "cost"), [("<b>Bob</b> & Co", "$1.00")])
    assert "<thead><tr><th>user</th><th>cost</th></tr></thead>" in text
    assert "<tbody><tr><td>&lt;b&gt;Bob&lt;/b&gt; &amp; Co</td><td>$1.00</td></tr></tbody>" in text
    assert html_table(("user",), []).endswith(
        "<thead><tr><th>user</th></tr></thead><tbody></tbody></table>"
    )


def test_the_logs_date_range_keeps_the_tasks_started_in_it(browser, app_url, warehouse):
    days = warehouse.execute(
        "select min(start_time)::date, max(start_time)::date from analytics.task_executions "
        "where organization_id = %s",
        (ORG,),
    ).fetchone()
    first = days[0] + timedelta(days=1)
    last = first + timedelta(days=1)
    (expected,) = warehouse.execute(
        "select count(*) from analytics.task_executions where organization_id = %s "
        "and start_time >= %s and start_time < %s",
        (ORG, first, last + timedelta(days=1)),
    ).fetchone()
    assert 0 < expected < 47  # the range keeps some of the organization's tasks, not all
    page = open_page(browser, f"{app_url}/log?viewer={ADMIN}", "log-dates")
    for end, day in (("start", first), ("end", last)):  # typed segment by segment
        page.get_by_role("spinbutton", name=f"year, Started between {end} date").click()
        page.keyboard.type(f"{day:%Y%m%d}")
    page.keyboard.press("Escape")  # the calendar closes; the range is taken on leaving the field
    page.get_by_role("heading", name="Task execution log").click()
    expect(page.locator('[data-testid="stCaptionContainer"]').last).to_have_text(
        f"{expected:,} {'task' if expected == 1 else 'tasks'}, page 1 of "
        f"{max(1, -(-expected // data.PAGE_SIZE))}"
    )
    started = {row[1][:10] for row in table(page)}
    assert started <= {f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}"}
