"""Time the dashboard's pages on the current warehouse (the demo's: `make demo` first).

Two measures per page, for one viewer of each role (an organization admin, a team lead, a
developer), after a warm-up:
  - server: the page's reads, as the viewer (warehouse/dashboard/data.py, the same calls the
    page makes), N times each;
  - browser: a real Chromium (Debian's, through Playwright) on `streamlit run`: the time from
    the click on the page's link in the sidebar (the click event, in the page's own clock)
    until the first frame drawn once the page is finished: its heading in, its script run
    ended and no element of the previous page left. The previous page is on screen for
    PAUSE_MS first, as for a person who reads it (its chart has finished drawing). The time
    Playwright's calls take around the same clicks (its own round trips included) is shown
    beside it.
Prints a Markdown table for docs/benchmarks.md; the target is the specification's 200 ms.

    make bench-dashboard        # or: .venv/bin/python -m benchmarks.bench_dashboard --runs 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from benchmarks.bench_api import free_port
from warehouse import settings
from warehouse.dashboard import data

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TARGET_MS = 200
PAUSE_MS = 500
# Whether the page is finished: its heading in, the app's script run ended (Streamlit's
# data-test-script-state) and no element of the previous page left (data-stale). Installed
# before the page's own scripts.
FINISHED = """window.__finished = title => {
    const heading = document.querySelector('h1');
    const app = document.querySelector('[data-testid="stApp"]');
    return Boolean(heading && heading.innerText.startsWith(title)
        && app && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-stale="true"]'));
};"""
# Installed once in the page: the click's time, and the time of the first frame drawn once the
# page wanted (window.__want) is finished.
CLICK_TO_FRAME = """() => {
    document.addEventListener('click', event => { window.__clickAt = event.timeStamp; }, true);
    const check = () => {
        if (window.__want && window.__drawnAt === null && window.__finished(window.__want)) {
            window.__drawnAt = -1;
            requestAnimationFrame(() => { window.__drawnAt = performance.now(); });
        }
    };
    new MutationObserver(check).observe(document.body, {
        subtree: true, childList: true, characterData: true,
        attributes: true, attributeFilter: ['data-test-script-state', 'data-stale'],
    });
}"""
# page link -> the start of its heading
PAGES = {
    "Savings": "Savings",
    "Task log": "Task execution log",
    "Providers": "Providers",
    "Teams": "Team productivity",
    "Executive summary": "Executive summary",
    "ROI calculator": "ROI calculator",
}


def server_reads(viewer: data.Viewer, month) -> dict[str, Callable[[], object]]:
    """Each page's reads, as the page makes them."""

    def run(*reads: Callable) -> Callable[[], object]:
        def page() -> object:
            with data.as_viewer(viewer) as connection:
                return [read(connection) for read in reads]

        return page

    return {
        "Savings": run(lambda c: data.savings(c, month), lambda c: data.daily_savings(c, month)),
        "Task log": run(data.log_choices, lambda c: data.task_log(c, data.LogFilter(), 1)),
        "Providers": run(
            lambda c: data.provider_usage(c, month), lambda c: data.provider_performance(c, month)
        ),
        "Teams": run(data.team_productivity),
        "Executive summary": run(lambda c: data.executive_summary(c, month)),
        "ROI calculator": run(
            lambda c: data.executive_summary(c, month), lambda c: data.savings(c, month)
        ),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def settled(page: Page, title: str) -> None:
    page.wait_for_function("title => window.__finished(title)", arg=title, timeout=60_000)


class NothingToMeasureError(RuntimeError):
    """The warehouse has no viewer to measure the pages as."""


def start_app(log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run` on the warehouse the libpq variables name, on a free port."""
    port = free_port()
    app = settings.project_dir() / "warehouse" / "dashboard" / "app.py"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=os.environ.copy(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"streamlit did not start; its log: {log.read_text()[-2000:]}")


def measure_pages(runs: int, log: Callable[[str], None] = print) -> list[dict]:
    """Each page for one viewer of each role, on the warehouse the libpq variables name: a
    row per role and page with the server and browser times' p50 and p95 (ms)."""
    viewers: dict[str, data.Viewer] = {}
    for person in data.viewers():
        viewers.setdefault(person.role, person)
    if not viewers:
        raise NothingToMeasureError("no user with a reader role: run `make demo` first")
    month = datetime.now(UTC).date().replace(day=1)
    rows = []
    log(f"{len(viewers)} viewers, {runs} runs per page")
    with tempfile.TemporaryDirectory() as scratch:
        process, url = start_app(Path(scratch) / "streamlit.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                    args=CHROMIUM_ARGS,
                )
                for role, viewer in sorted(viewers.items()):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.add_init_script(FINISHED)
                    page.goto(f"{url}/?viewer={viewer.user_id}")
                    settled(page, "Savings")
                    page.evaluate(CLICK_TO_FRAME)
                    reads = server_reads(viewer, month)
                    for name in PAGES:
                        row = measure_page(page, reads[name], name, runs)
                        rows.append({"role": role, "page": name, **row})
                        log(f"  {role:<10} {name:<18} server p95 {row['server_p95']:6.1f} ms, "
                            f"browser p95 {row['browser_p95']:6.1f} ms")  # fmt: skip
                    page.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    return rows


def measure_page(page: Page, read: Callable[[], object], name: str, runs: int) -> dict:
    """One page's reads ``runs`` times, then ``runs`` switches to it from another page (after
    a warm-up of each)."""
    server, clicks, around = [], [], []
    read()  # warm-up
    for _ in range(runs):
        started = time.perf_counter()
        read()
        server.append((time.perf_counter() - started) * 1000)
    other = "Savings" if name != "Savings" else "Task log"
    for run in range(runs + 1):
        page.get_by_role("link", name=other, exact=True).click()
        settled(page, PAGES[other])
        page.wait_for_timeout(PAUSE_MS)
        page.evaluate("title => { window.__want = title; "
                      "window.__drawnAt = null; window.__clickAt = null; }",
                      PAGES[name])  # fmt: skip
        started = time.perf_counter()
        page.get_by_role("link", name=name, exact=True).click()
        settled(page, PAGES[name])
        ended = time.perf_counter()
        page.wait_for_function("() => window.__drawnAt > 0")
        if run:  # the first is the warm-up
            clicks.append(page.evaluate("() => window.__drawnAt - window.__clickAt"))
            around.append((ended - started) * 1000)
    return {
        "server_p50": statistics.median(server), "server_p95": percentile(server, 0.95),
        "browser_p50": statistics.median(clicks), "browser_p95": percentile(clicks, 0.95),
        "around_p50": statistics.median(around), "around_p95": percentile(around, 0.95),
        "met": percentile(clicks, 0.95) <= TARGET_MS,
    }  # fmt: skip


def table(rows: list[dict]) -> list[str]:
    """The Markdown table of ``measure_pages``' rows."""
    lines = ["| viewer | page | server p50 / p95 ms | browser, click to frame, p50 / p95 ms "
             "| around Playwright's calls p50 / p95 ms | target 200 ms |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        lines.append(
            f"| {row['role']} | {row['page']} | {row['server_p50']:.1f} / "
            f"{row['server_p95']:.1f} | {row['browser_p50']:.0f} / {row['browser_p95']:.0f} | "
            f"{row['around_p50']:.0f} / {row['around_p95']:.0f} | "
            f"{'met' if row['met'] else 'not met'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per page and viewer")
    args = parser.parse_args()
    try:
        rows = measure_pages(args.runs, lambda line: print(line, flush=True))
    except NothingToMeasureError as error:
        raise SystemExit(str(error)) from None
    print("\n" + "\n".join(table(rows)))


if __name__ == "__main__":
    main()
