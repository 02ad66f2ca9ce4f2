"""The scale benchmark works end to end (a tiny quick run; its timings are not checked).

2,000 tasks over 10 days, then one more day of 200 tasks: 2,200 tasks numbered 0..2199. The
generator fixes by task number n the classes whose counts are checked here:
  stuck pending   n % 1000 == 0         0, 1000, 2000                     3 tasks, 1 version
  stuck running   n % 1000 in 1..4      1-4, 1001-1004, 2001-2004         12 tasks, 2 versions
  finished        the others                                              2,185 tasks, 3 versions
  re-routed       n % 100 in 3..5       3 of every 100, 22 hundreds       66 more decisions
  negative cost   n % 20000 == 7        7                                 1 quarantined task
Task versions: 2,200 pending + 2,197 running + 2,185 final = 6,582.
Routing decision rows: 2,200 decisions + 2,185 completed with actuals + 66 re-routes = 4,451,
of 2,266 distinct decisions. Batches: 4 reference files + 2 tables x 11 days = 26.
The load phase exports the base data's versions: 2,000 + 1,998 + 1,990 = 5,988.

Each micro-batch file holds the versions of the newest tasks under fresh ids plus one
unparseable line (1 rejected row). The faults phase's (--micro-batch-tasks 100) copy the newest
100 tasks, 2100-2199: none stuck, none quarantined, so 300 versions (301 lines). The live phase
lands at 0.5 tasks a second (--live-tasks-per-second): first the 5 minutes' backlog
(WAREHOUSE_MARTS_MAX_LAG_MINUTES), 150 tasks (2050-2199: 450 versions) in one batch, then
batches of the newest 10 tasks (the fewest it lands; 30 versions) every 20 s: one per pgbench
run of 1 s, one for the landing-to-live step and one before the build of the landing-to-marts
step. The faults phase lands one a second (--micro-batch-interval) while its build runs (at
least one), then 2 more (the 200 tasks of one more day) before the killed build. With f faults
batches and l live batches of 10 tasks, raw holds 2,200 + n tasks (n = 100 f + 10 l + 150) in
6,582 + 3 n versions, the task mart 2,199 + n, quarantine still 1, raw.rejected_rows f + l + 1;
the faults' count (before the killed build) sees all but the last 2. The killed load stops at
line 2 + 5,988 / 2 = 2,996, after 2,994 rows; its rerun loads the 5,988 rows once.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from benchmarks.bench_report import SECTIONS, milliseconds
from benchmarks.scale_dataset import expected_counts
from warehouse import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench_database(server: settings.ConnectionSettings):
    name = f"wh_test_bench_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as admin:
        for database in (name, f"{name}_load", f"{name}_copy"):
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )


def test_expected_counts_by_task_number():
    assert expected_counts(2200) == {
        "tasks": 2200,
        "task_versions": 6582,
        "routing_decisions": 4451,
        "distinct_routing_decisions": 2266,
        "quarantined": 1,
    }
    assert expected_counts(2000)["task_versions"] == 5988


def test_latencies_under_a_millisecond_keep_two_significant_digits():
    """A cached read on a fast machine takes 0.04 ms: one decimal would print 0.0."""
    assert [milliseconds(value) for value in (0.04, 0.0123, 0.3, 0.96, 1.0, 8.04, 52.64)] == [
        "0.04", "0.012", "0.3", "0.96", "1.0", "8.0", "52.6"
    ]  # fmt: skip


def test_quick_bench_generates_exact_counts_and_writes_every_section(
    server: settings.ConnectionSettings, bench_database: str, tmp_path: Path
):
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n## Foundation\n\nkept as it is\n", encoding="utf-8")
    curves = tmp_path / "scaling.md"
    curves.write_text("# Scaling\n\nintro kept\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "benchmarks.bench_scale", "--quick", "--keep",
        "--tasks", "2000", "--days", "10", "--until", "2026-03-02T12:00:00+00:00",
        "--runs", "1", "--pgbench-seconds", "1", "--inserts", "50", "--micro-batch-tasks", "100",
        "--micro-batch-interval", "1", "--api-requests", "20", "--dashboard-runs", "1",
        "--live-tasks-per-second", "0.5",
        "--database", bench_database, "--report", str(report), "--curves", str(curves),
        "--command", "quick test run",
    ]  # fmt: skip

    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=bench_database
    ) as connection:

        def one(query: str) -> tuple:
            return connection.execute(query).fetchone()

        micro = dict(
            connection.execute(
                "select rows_loaded, count(*) from raw.load_batches "
                "where source_file like '%/task\\_executions\\_\\_micro\\_%' "
                "and status = 'loaded' and rows_read = rows_loaded + 1 and rows_rejected = 1 "
                "group by rows_loaded"
            ).fetchall()
        )
        faults_batches, live_batches = micro.get(300, 0), micro.get(30, 0)
        assert faults_batches >= 3
        assert live_batches >= 4  # a pgbench run of each live metric, then the two landings
        assert micro == {300: faults_batches, 30: live_batches, 450: 1}
        batches = faults_batches + live_batches + 1
        new_tasks = 100 * faults_batches + 10 * live_batches + 150
        assert one("select count(*) from raw.load_batches where source_file like "
                   "'%/task\\_executions\\_\\_micro\\_%'") == (batches,)  # fmt: skip
        assert one("select count(distinct id), count(*) from raw.task_executions") == (
            2200 + new_tasks,
            6582 + 3 * new_tasks,
        )
        assert connection.execute(
            "select table_name, field, count(*) from raw.rejected_rows group by 1, 2"
        ).fetchall() == [("task_executions", "start_time", batches)]
        assert one("select count(distinct id), count(*) from raw.routing_decisions") == (
            2266,
            4451,
        )
        teams, users = one(
            "select (select count(*) from raw.teams), (select count(*) from raw.users)"
        )
        assert connection.execute(
            "select table_name, count(*), sum(rows_loaded) from raw.load_batches "
            "where status = 'loaded' and rows_read = rows_loaded and rows_rejected = 0 "
            "group by table_name order by table_name"
        ).fetchall() == [
            ("organizations", 1, 3),
            ("provider_pricing", 1, 12),  # 3 providers x 2 list prices, 2 task-type, 4 tier
            ("routing_decisions", 11, 4451),
            ("task_executions", 11, 6582),
            ("teams", 1, teams),
            ("users", 1, users),
        ]
        assert one("select count(*) from raw.load_batches") == (26 + batches,)
        # Batch ids grow with the data's time: each window's task batch is loaded after the
        # previous window's.
        assert one(
            "select bool_and(_loaded_at >= previous) from (select _loaded_at, "
            "lag(_loaded_at) over (order by batch_id) as previous from (select distinct "
            "_batch_id as batch_id, _loaded_at from raw.task_executions) as batches) as ordered"
        ) == (True,)
        # raw = marts + quarantine after the builds
        assert one("select count(*) from analytics.task_executions") == (2199 + new_tasks,)
        assert connection.execute(
            "select reason, count(*) from monitoring.quarantined_task_executions group by reason"
        ).fetchall() == [("negative_cost", 1)]
        [marts] = one(
            "select count(*) from pg_tables where schemaname in ('analytics', 'monitoring')"
        )
        # the cached live summaries, where the build has them (measured then, else skipped)
        cached = [
            relation
            for relation in ("live_savings_today_cached", "live_last_five_minutes_cached")
            if connection.execute(
                "select to_regclass(%s) is not null", (f"analytics.{relation}",)
            ).fetchone()[0]
        ]
        copies = "select count(*) from pg_database where datname = %s"
        assert connection.execute(copies, (f"{bench_database}_copy",)).fetchone() == (0,)
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=f"{bench_database}_load"
    ) as connection:  # the killed load's rerun
        assert connection.execute(
            "select count(*), count(distinct _source_line) from raw.task_executions"
        ).fetchone() == (5988, 5988)
        assert connection.execute("select status from raw.load_batches").fetchall() == [("loaded",)]
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\n## Foundation\n\nkept as it is\n")
    for section in SECTIONS:
        assert f"### {section}\n" in text
    assert "## Scale: 2,000 tasks generated in the database" in text
    assert "Command: `quick test run`" in text
    assert "5,988 loaded, 0 rejected" in text
    for query in ("3.1", "3.2", "3.3", "3.4"):
        assert f"| {query} " in text
    assert "single-row insert (1 client)" in text
    api = text[text.index("### Reporting API") : text.index("### Live layer")]
    assert "20 requests per endpoint and run" in api
    for endpoint in ("3.1 dashboard", "3.2 savings today", "3.3 provider comparison",
                     "3.4 team productivity", "series (daily, month)", "last five minutes",
                     "metrics"):  # fmt: skip
        for cache, clients in (("uncached", 8), ("uncached", 32), ("cached", 8), ("cached", 32)):
            assert f"| {endpoint} | {cache} | {clients} | " in api
    pages = text[text.index("### Dashboard pages") : text.index("### Live layer")]
    assert "1 switches to the page" in pages
    for role in ("developer", "org_admin", "team_lead"):
        for page in ("Savings", "Task log", "Providers", "Teams", "Executive summary",
                     "ROI calculator"):  # fmt: skip
            assert re.search(rf"\| {role} \| {page} \| [0-9.]+ / [0-9.]+ \| [0-9]+ / [0-9]+ \| ",
                             pages), (role, page)  # fmt: skip
    storage = text[text.index("### Storage") : text.index("### Faults under load")]
    assert "| raw.task_executions | " in storage  # its month partitions counted with it
    assert "raw.task_executions_20" not in storage
    assert live_section_landed(text, bench_database, cached) == live_batches + 1
    faults = text[text.index("### Faults under load") : text.index("### Did not finish")]
    under_build = faults_batches - 2  # the last 2: the day of the killed build
    assert f"{under_build:,} batches of 300 versions (100 new tasks) and one unparse" in faults
    assert (
        f"**After the next build, they reconcile**: {2200 + new_tasks - 200:,} distinct "
        f"parseable raw tasks = {2199 + new_tasks - 200:,} in `analytics.task_executions` + "
        f"1 in `monitoring.quarantined_task_executions`; {batches - 2:,} rows in "
        "`raw.rejected_rows`" in faults
    )
    assert "| land new tasks for the killed build |" in faults
    assert "2 micro-batches: 200 new tasks (a generated day has 200), 600 versions" in faults
    assert f"{marts} of {marts} tables equal" in faults
    assert "killed after " in faults
    assert (
        "2,994 rows written (uncommitted) when killed; raw holds 0 of its rows, 0 rejected rows "
        "and 0 batches of it" in faults
    )
    assert "each of the 5,988 rows once" in faults
    assert "did not finish" not in text
    # the roles of the live phase's reader login are gone
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=bench_database
    ) as connection:
        assert connection.execute(
            "select count(*) from pg_roles where rolname like 'bench\\_live\\_reader\\_%'"
        ).fetchone() == (0,)
    curve_lines = curves.read_text(encoding="utf-8").splitlines()
    assert curve_lines[:3] == ["# Scaling", "", "intro kept"]
    assert sum(line.startswith("| 2,000 |") for line in curve_lines) == 1


LATENCY_ROW = re.compile(
    r"^\| (?P<query>live_\w+) \| `PGUSER=<a temporary login in analytics_org_admin> pgbench "
    r"-n -M prepared -c 8 -j 2 -T 1 -l -f <set app.user_id = '<the organization's admin>'; "
    r"then docs/live.md's query with \$1 = that organization; a script each for 3 "
    r"organizations> (?P<database>\w+)` \| (?P<queries>[\d,]+) \| [\d.,]+ \| "
    r"(?P<p50>[\d.]+) \| (?P<p95>[\d.]+) \| (?P<p99>[\d.]+) \| 10 ms: (?P<met>met|not met) "
    r"\| (?P<batches>[\d,]+) micro-batches, (?P<versions>[\d,]+) versions, a load "
    r"(?P<load_ms>[\d,]+) ms \(median\) \| "
    r"(?P<before>[\d,]+), (?P<after>[\d,]+) \|$",
    re.MULTILINE,
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def live_section_landed(text: str, database: str, cached: list[str]) -> int:
    """Check the report's live layer section; return how many micro-batches the phase landed.

    First the backlog of 150 tasks; then each live metric's row: queries and percentiles
    measured while micro-batches of 10 tasks landed (one per run: one every 20 s, runs of 1 s);
    the landing-to-live step finds its task at the first poll after the commit, with one batch
    more in the live view; the landing-to-marts step's build takes in that view's tasks. The
    cached summaries are measured like the others where the build has them (``cached``), else
    skipped with their reason."""
    live = text[text.index("### Live layer") : text.index("### Single-row inserts")]
    assert "meanwhile micro-batches land at the live rate, 0.5 new tasks a second" in live
    landed = re.search(
        r"The live phase landed ([\d,]+) micro-batches \(([\d,]+) task versions\) in all", live
    )
    assert landed is not None, live
    live_batches, live_versions = number(landed[1]), number(landed[2])
    assert live_versions == 450 + 30 * (live_batches - 1)
    rows = {row["query"]: row for row in LATENCY_ROW.finditer(live)}
    assert list(rows) == ["live_savings_today", "live_last_five_minutes", *cached], live
    for row in rows.values():
        assert row["database"] == database
        assert number(row["queries"]) > 0
        assert 0 < float(row["p50"]) <= float(row["p95"]) <= float(row["p99"])
        assert row["met"] == ("met" if float(row["p95"]) <= 10 else "not met")
        assert number(row["batches"]) == 1
        assert number(row["versions"]) == 30
        assert number(row["load_ms"]) > 0
        assert number(row["after"]) == number(row["before"]) + 10
    # the live view grows from the backlog (the hourly refresh built everything), run after run
    sizes = [(number(row["before"]), number(row["after"])) for row in rows.values()]
    assert [before for before, _ in sizes] == [150] + [after for _, after in sizes[:-1]]
    in_live_view = sizes[-1][1] + 10
    skipped = [
        f"{relation}: skipped: analytics.{relation} does not exist (the cached summaries are "
        "not part of this build)"
        for relation in ("live_savings_today_cached", "live_last_five_minutes_cached")
        if relation not in cached
    ]
    for line in skipped:
        relation, note = line.split(": ", 1)
        assert f"| {relation} | - | - | skipped | {note} |\n" in live
    to_live = re.search(
        r"^\| landing to the live view \| `load_paths\(connection, "
        r"\[Path\('task_executions__micro_<n>.csv'\)\]\), then every 50 ms as the reader login: "
        r"select 1 from analytics.live_task_executions where id = %s \(one of its tasks\)` \| 1 "
        r"\| [\d.,]+ m?s \| median of 1; found at poll 1 \(1: the first query after the "
        r"commit\); the live view held ([\d,]+) tasks \|$",
        live,
        re.MULTILINE,
    )
    assert to_live is not None, live
    assert number(to_live[1]) == in_live_view
    to_marts = re.search(
        r"^\| landing to the marts \| `load_paths\(connection, "
        r"\[Path\('task_executions__micro_<n>.csv'\)\]\), then WAREHOUSE_AS_OF="
        r"2026-03-02T13:00:00\+00:00 PGDATABASE=\w+ \.venv/bin/dbt build, then select from "
        r"analytics.task_executions where id = <one of its tasks>` \| 1 \| [\d.,]+ m?s \| "
        r"median of 1; the first build also took in the ([\d,]+) tasks landed before \(the "
        r"live view's\); its sensor, raw_batches_sensor, is evaluated every 60 s ",
        live,
        re.MULTILINE,
    )
    assert to_marts is not None, live
    assert number(to_marts[1]) == in_live_view
    # the backlog, one batch per pgbench run, then the two single landings
    assert live_batches == 1 + len(rows) + 2
    unfinished = text[text.index("### Did not finish") :]
    assert [line for line in unfinished.splitlines() if line.startswith("- live:")] == [
        f"- live: {line}" for line in skipped
    ]
    return live_batches
