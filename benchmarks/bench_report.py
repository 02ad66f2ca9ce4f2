"""The scale benchmark's results as Markdown: a section of docs/benchmarks.md (replaced on a
rerun, the other sections kept) and a row per scale in docs/scaling.md's table of curves."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.bench_scale import Results, Step

BEGIN = "<!-- bench_scale:begin -->"
END = "<!-- bench_scale:end -->"
CURVES_BEGIN = "<!-- bench_scale:curves:begin -->"
CURVES_END = "<!-- bench_scale:curves:end -->"
# The live phase lands tasks at this multiple of the volume's average rate (tasks over days), a
# busy hour; the faults phase lands as fast as it can.
LIVE_PEAK_FACTOR = 10
SECTIONS = ("Dataset", "Generation", "Loading", "dbt", "Dashboard queries", "Reporting API",
            "Dashboard pages", "Live layer", "Single-row inserts", "Storage", "Faults under load",
            "Did not finish")  # fmt: skip
CURVE_COLUMNS = (
    "tasks", "generate", "first dbt run", "first dbt build", "no-op dbt",
    "incremental build (1 day)", "incremental run (1 day)", "hourly refresh",
    "3.1 p95", "3.2 p95", "3.3 p95", "3.4 p95", "raw B/task", "marts B/task", "measured",
)  # fmt: skip


def milliseconds(value: float) -> str:
    """A latency in ms: one decimal from 1 ms up, two significant digits below (a cached read's
    0.04 ms would print as 0.0)."""
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _percentiles(row: dict) -> tuple[str, str, str]:
    return milliseconds(row["p50"]), milliseconds(row["p95"]), milliseconds(row["p99"])


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value < 10 else f"{value:,.1f} s"


def _time(step: Step) -> str:
    if step.outcome == "timeout":
        return "did not finish"
    if step.outcome == "failed":
        return "failed"
    if step.outcome == "skipped":
        return "skipped"
    return seconds(step.median)


def _command(step: Step) -> str:
    return "-" if step.command == "-" else f"`{step.command}`"


def _runs(step: Step) -> str:
    return str(len(step.seconds)) if step.seconds else "-"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def render(results: Results) -> str:
    facts, plan, args = results.facts, results.plan, results.args
    finished = facts["finished_at"]
    load_start = facts.get("load_average_start", (math.nan,) * 3)
    load_end = facts.get("load_average_end", (math.nan,) * 3)
    lines = [
        BEGIN,
        f"## Scale: {plan.tasks:,} tasks generated in the database",
        "",
        f"Command: `{facts['command']}` (`benchmarks/bench_scale.py`; phase timeout "
        f"{args.phase_timeout} s; {args.runs} runs of each cheap step, the median shown). "
        f"Measured {finished:%Y-%m-%d} on {facts['cores']} cores, {facts['ram_gib']:.0f} GiB RAM, "
        f"PostgreSQL {facts['postgres']} "
        f"({'embedded' if facts['embedded'] else 'PGHOST'}), Python {facts['python']}; load "
        f"average {load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end (other work "
        "on the machine shows in the times). Scratch databases "
        f"`{args.database}` and `{args.database}_load` on the warehouse's server; the commands "
        'run from the project root after `eval "$(.venv/bin/warehouse env)"`.',
        "",
        "### Dataset",
        "",
        results.dataset or "(not generated)",
        "",
        "### Generation",
        "",
        f"Set-based SQL inside the database, one transaction per window and table batch; the "
        f"harness's peak RSS after generating: "
        f"{facts.get('generation_rss_mib', math.nan):,.0f} MiB (at the end, with dbt imported "
        f"for the in-process comparison: {facts.get('final_rss_mib', math.nan):,.0f} MiB).",
        "",
    ]
    lines += _table(
        ("step", "runs", "time", "note"),
        [(step.name, _runs(step), _time(step), step.note)
         for step in results.steps if step.section == "generate"],
    )  # fmt: skip
    lines += ["", "### Loading", ""]
    lines += _table(
        ("step", "command", "runs", "time", "throughput / note"),
        [(step.name, _command(step), _runs(step), _time(step), step.note)
         for step in results.steps if step.section == "load"],
    )  # fmt: skip
    lines += ["", "### dbt", ""]
    lines += _table(
        ("step", "command", "runs", "time", "note"),
        [(step.name, _command(step), _runs(step), _time(step), step.note)
         for step in results.steps if step.section == "dbt"],
    )  # fmt: skip
    noop = results.step("dbt start-up: a no-op command")
    if noop is not None and noop.median is not None:
        shares = []
        for step in results.steps:
            if step.section == "dbt" and step.name.startswith("incremental") and step.median:
                shares.append(f"{step.name}: {noop.median:.1f} of {step.median:.1f} s")
        if shares:
            lines += ["", "dbt's own start-up (the no-op command) in the incremental runs: "
                      + "; ".join(shares) + "."]  # fmt: skip
    dashboard = [row for row in results.latencies if row["section"] == "dashboards"]
    lines += [
        "",
        "### Dashboard queries",
        "",
        f"The specification's queries 3.1-3.4 verbatim (3.2 is the real-time savings counter), "
        f"`search_path` = `analytics`, {args.clients} concurrent clients for "
        f"{args.pgbench_seconds} s each, with pgbench (prepared statements; `$1` is one script "
        "per organization or task type, picked at random per query). Latency in ms.",
        "",
    ]
    lines += _table(
        ("query", "command", "queries", "per second", "p50", "p95", "p99"),
        [(row["query"], f"`{row['command']}`", f"{row['transactions']:,}", f"{row['tps']:,.1f}",
          *_percentiles(row)) for row in dashboard]
        + [(step.name, _command(step), "-", "-", _time(step), "-", "-")
           for step in results.steps if step.section == "dashboards" and step.outcome != "ok"],
    )  # fmt: skip
    lines += ["", "### Reporting API", "", *_api(results)]
    lines += ["", "### Dashboard pages", "", *_dashboard_pages(results)]
    lines += ["", "### Live layer", "", *_live(results)]
    inserts = [row for row in results.latencies if row["section"] == "inserts"]
    lines += ["", "### Single-row inserts", ""]
    lines += _table(
        ("what", "command", "inserts", "per second", "p50 ms", "p95 ms", "p99 ms"),
        [(row["query"], f"`{row['command']}`", f"{row['transactions']:,}", f"{row['tps']:,.0f}",
          *_percentiles(row)) for row in inserts]
        + [(step.name, _command(step), "-", "-", _time(step), "-", "-")
           for step in results.steps if step.section == "inserts" and step.outcome != "ok"],
    )  # fmt: skip
    per_task = facts.get("bytes_per_task", {})
    lines += [
        "",
        "### Storage",
        "",
        f"{facts.get('raw_tasks', 0):,} distinct tasks in raw. Bytes per task (tables, TOAST "
        "and indexes): " + (", ".join(f"{layer} {size:,.0f}" for layer, size in per_task.items())
                            or "-") + ". The ten largest relations:",
        "",
    ]  # fmt: skip
    lines += _table(
        ("relation", "rows (estimate)", "table + TOAST", "indexes", "total"),
        [(row["relation"], f"{row['rows']:,}", _mib(row["table"]), _mib(row["indexes"]),
          _mib(row["total"])) for row in results.storage[:10]],
    )  # fmt: skip
    lines += ["", "### Faults under load", "", *_faults(results)]
    unfinished = [step for step in results.steps if step.outcome != "ok"]
    lines += ["", "### Did not finish", ""]
    if unfinished:
        lines += [f"- {step.section}: {step.name}: {step.note}" for step in unfinished]
    else:
        lines.append("Every phase finished.")
    lines += [END]
    return "\n".join(lines) + "\n"


def _api(results: Results) -> list[str]:
    """The reporting API's latency (benchmarks/bench_api.py) or why it was not measured."""
    from benchmarks.bench_api import table
    from warehouse.api.app import pool_size

    measured = results.facts.get("api")
    if not measured:
        steps = [step for step in results.steps if step.section == "api"]
        return [steps[0].note if steps else "Not measured."]
    return [
        f"`warehouse api` ({measured['workers']} process, a pool of {pool_size()} connections) "
        "on this "
        f"database ({measured['tasks']:,} tasks), uncached (`WAREHOUSE_API_CACHE_SECONDS=0`) "
        f"and cached (30 s, filled first); {measured['requests']:,} requests per endpoint and "
        "run from 8 and then 32 concurrent clients (aiohttp on uvloop, each client one request "
        "at a time on a keep-alive connection) on the same machine; an organization admin's "
        "key. Latency in ms as the client sees it; targets: p95 under 50 ms uncached, under "
        "10 ms cached.",
        "",
        *table(measured["rows"]),
    ]


def _dashboard_pages(results: Results) -> list[str]:
    """The dashboard's page switches in Chromium (benchmarks/bench_dashboard.py), or why they
    were not measured."""
    from benchmarks.bench_dashboard import PAUSE_MS, table

    rows = results.facts.get("dashboard_pages")
    if not rows:
        steps = [step for step in results.steps if step.section == "dashboard pages"]
        return [steps[0].note if steps else "Not measured."]
    runs = results.args.dashboard_runs
    return [
        f"`streamlit run warehouse/dashboard/app.py` on this database and Debian's Chromium "
        f"(Playwright), on the same machine; one viewer of each role. **Server**: the page's "
        f"reads as the viewer, uncached, {runs} times. **Browser**: {runs} switches to the "
        f"page from another one shown {PAUSE_MS} ms before, timed by the page itself from the "
        "click to the first frame once the page is finished (its heading in, the app's "
        "script run ended, nothing of the previous page left); the page's reads are cached "
        "for 30 seconds, as for a person clicking through. Target: 200 ms.",
        "",
        *table(rows),
    ]


def _live(results: Results) -> list[str]:
    """The live layer's phase: the live metrics' latency while micro-batches land, and the
    time from a landing's commit to the live view and to the marts."""
    args = results.args
    landed = results.facts.get("live_landed", {"batches": 0, "versions": 0})
    lines = [
        f"Run after the single-row inserts and before the faults. The dashboard queries of "
        f"docs/live.md (`$1`: one script per organization, up to 100) by {args.clients} "
        f"concurrent clients for {args.pgbench_seconds} s each (pgbench, prepared statements), "
        "as a dashboard runs them: a temporary login role in `analytics_org_admin` (dropped "
        "at the end), each script setting `app.user_id` to the organization's admin before "
        "its query, so row-level security and the live view's caller filter are timed too; "
        f"first, what lands in WAREHOUSE_MARTS_MAX_LAG_MINUTES at the live rate lands as one "
        "batch (the live view's size just before the near-real-time sensor's next build); "
        f"meanwhile micro-batches land at the live rate, {args.live_tasks_per_second:,.1f} new "
        "tasks a second (by default the volume's average rate, tasks over days, times "
        f"{LIVE_PEAK_FACTOR}: a busy hour), so the live view grows through the run. Then one "
        "micro-batch lands and the reader "
        "polls the live view for one of its tasks every 50 ms; then one lands and the "
        "incremental `dbt build` the near-real-time sensor would start runs. Latency in ms. "
        f"The live phase landed {landed['batches']:,} "
        f"micro-batches ({landed['versions']:,} task versions) in all.",
        "",
    ]
    live = [row for row in results.latencies if row["section"] == "live"]
    measured = {row["query"] for row in live}
    lines += _table(
        ("query", "command", "queries", "per second", "p50", "p95", "p99", "p95 target",
         "landed meanwhile", "live view tasks before, after"),
        [(row["query"], f"`{row['command']}`", f"{row['transactions']:,}", f"{row['tps']:,.1f}",
          *_percentiles(row),
          f"{row['target_ms']} ms: {'met' if row['p95'] <= row['target_ms'] else 'not met'}",
          f"{row['batches']:,} micro-batches, {row['versions']:,} versions"
          + (f", a load {row['load_ms']:,.0f} ms (median)" if "load_ms" in row else ""),
          f"{row['live_tasks'][0]:,}, {row['live_tasks'][1]:,}") for row in live],
    )  # fmt: skip
    lines += [""]
    lines += _table(
        ("step", "command", "runs", "time", "note"),
        [(step.name, _command(step), _runs(step), _live_time(step), step.note)
         for step in results.steps if step.section == "live" and step.name not in measured],
    )  # fmt: skip
    return lines


def _live_time(step: Step) -> str:
    """A time in ms under a second (the live view's), else as the other phases show it."""
    if step.outcome == "ok" and step.median is not None and step.median < 1:
        return f"{step.median * 1000:,.0f} ms"
    return _time(step)


def _faults(results: Results) -> list[str]:
    """The faults phase: micro-batches landing while a build runs and the count after the next
    build; a build killed and run again against an uninterrupted one; a load killed mid-file."""
    facts = results.facts
    lines = [
        "Run last, on the scratch databases as the phases above left them; the builds run as of "
        "the hourly refresh's time. While a `dbt build` runs, micro-batches of new tasks (the "
        "newest generated tasks' versions under fresh ids, and one line that cannot be parsed) "
        "are written as landing files and loaded one after the other by the loader "
        "(`load_paths`, one transaction per file) until the build ends; the next build takes "
        "in those committed after the first took its batch horizon; then raw is counted "
        "against the marts (the reconciliation rule: distinct parseable raw tasks = tasks in "
        "`analytics.task_executions` + tasks in quarantine). About a day of new tasks lands "
        "and the database is copied (`create database ... template`); the copy is built, the "
        "original is built, killed with SIGKILL at half the copy's build time, and built "
        "again; every table of `analytics` and `monitoring` of the two (marts, seeds, stored test "
        "failures, build watermarks) is compared by an order-independent checksum computed in "
        "SQL, without the columns that say when (`built_from_batch_id`, `built_at`, "
        "`loaded_at`, a rollup's `created_at`). The load phase's file is loaded into the "
        "emptied load database, stopped at its middle line (a trigger waits on a lock the "
        "bench holds, `warehouse/faults.py`), killed there with SIGKILL, and loaded again.",
        "",
    ]
    micro = facts.get("micro_batches")
    if micro:
        lines += [
            f"**Micro-batches while a dbt build runs: {micro['rate']:,.0f} task versions/s "
            f"sustained** ({micro['verdict']}): {micro['batches']:,} batches of "
            f"{micro['versions_per_batch']:,} versions ({micro['tasks_per_batch']:,} new tasks) "
            f"and one unparseable line each, {micro['versions']:,} versions in "
            f"{micro['seconds']:.1f} s, while the build ran {seconds(micro['build_seconds'])}.",
            "",
        ]
    counted = facts.get("reconciliation")
    if counted:
        verdict = "they reconcile" if counted["reconciled"] else "they do NOT reconcile"
        lines += [
            f"**After the next build, {verdict}**: {counted['raw_tasks']:,} distinct parseable "
            f"raw tasks = {counted['mart_tasks']:,} in `analytics.task_executions` + "
            f"{counted['quarantined']:,} in `monitoring.quarantined_task_executions`; "
            f"{counted['rejected']:,} rows in `raw.rejected_rows`; "
            f"`monitoring.reconciliation_daily`: {counted['apart']:,} tasks apart.",
            "",
        ]
    lines += _table(
        ("step", "command", "runs", "time", "note"),
        [(step.name, _command(step), _runs(step), _time(step), step.note)
         for step in results.steps if step.section == "faults"],
    )  # fmt: skip
    if results.compared:
        equal = sum(row["equal"] for row in results.compared)
        lines += [
            "",
            f"The killed build run again against the uninterrupted one: {equal} of "
            f"{len(results.compared)} tables equal.",
            "",
        ]
        lines += _table(
            ("table", "rows, uninterrupted", "rows, killed and run again", "checksum"),
            [(row["table"], _count(row["uninterrupted"]), _count(row["rerun"]),
              "equal" if row["equal"] else "DIFFERENT") for row in results.compared],
        )  # fmt: skip
    return lines


def _count(value: int | None) -> str:
    return "missing" if value is None else f"{value:,}"


def replace_section(text: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the marked section replaced by ``section`` (appended when absent)."""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section


def write_report(path: Path, results: Results) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.write_text(replace_section(text, render(results)), encoding="utf-8")


def curve_row(results: Results) -> dict[str, str]:
    facts = results.facts

    def step_time(name: str) -> str:
        step = results.step(name)
        return "-" if step is None else _time(step)

    p95 = {
        row["query"].split()[0]: f"{row['p95']:.0f} ms"
        for row in results.latencies
        if row["section"] == "dashboards"
    }
    per_task = facts.get("bytes_per_task", {})
    build = results.step("first dbt build (seeds, models and tests, empty marts)")
    marts_built = "analytics" in per_task and build is not None and build.outcome == "ok"
    return {
        "tasks": f"{results.plan.tasks:,}",
        "generate": step_time("generate the base data (SQL, one transaction per window)"),
        "first dbt run": step_time("first dbt run (models only, empty marts)"),
        "first dbt build": step_time("first dbt build (seeds, models and tests, empty marts)"),
        "no-op dbt": step_time("dbt start-up: a no-op command"),
        "incremental build (1 day)": step_time("incremental dbt build after one more day"),
        "incremental run (1 day)": step_time("incremental dbt run after one more day"),
        "hourly refresh": step_time("hourly status refresh (tag:hourly+, one hour later)"),
        "3.1 p95": p95.get("3.1", "-"),
        "3.2 p95": p95.get("3.2", "-"),
        "3.3 p95": p95.get("3.3", "-"),
        "3.4 p95": p95.get("3.4", "-"),
        "raw B/task": f"{per_task['raw']:,.0f}" if "raw" in per_task else "-",
        "marts B/task": f"{per_task['analytics']:,.0f}" if marts_built else "-",
        "measured": f"{facts['finished_at']:%Y-%m-%d}",
    }


def write_curves(path: Path, results: Results) -> None:
    """Put this scale's row into the table of curves (one row per number of tasks)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Scaling\n"
    rows: dict[int, list[str]] = {}
    match = re.search(re.escape(CURVES_BEGIN) + r"(.*?)" + re.escape(CURVES_END), text, re.DOTALL)
    if match:
        for line in match.group(1).splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == len(CURVE_COLUMNS) and cells[0].replace(",", "").isdigit():
                rows[int(cells[0].replace(",", ""))] = cells
    row = curve_row(results)
    rows[results.plan.tasks] = [row[column] for column in CURVE_COLUMNS]
    table = _table(CURVE_COLUMNS, [tuple(rows[tasks]) for tasks in sorted(rows)])
    section = "\n".join([CURVES_BEGIN, *table, CURVES_END]) + "\n"
    path.write_text(replace_section(text, section, CURVES_BEGIN, CURVES_END), encoding="utf-8")
