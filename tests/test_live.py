"""The live layer on the marts' hand-built data (tests/test_marts.py): a task that lands after a
build is in analytics.live_task_executions at once, with the cost the next build gives it; the
marts plus the live view count each task once; the live metrics add both.

New rows (prices of test_marts: openai_codex 0.00001/token + 0.002/request from 03-02; baseline
github_copilot 0.00001/token + 0.001/request + 0.01/minute for org A):
  T8 A1 openai_codex, 1000 tokens, 60 s, completed: cost 0.012, baseline 0.021, savings 0.009
  T9 A2 openai_codex, 1000 tokens, 30 s, completed: cost 0.012, baseline 0.016, savings 0.004
  T4 (running in the first load) gets a completed version: 2000 tokens, 120 s:
     cost 0.022, baseline 0.02 + 0.001 + 0.02 = 0.041, savings 0.019
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from tests.test_faults import HORIZON_LOCK, WITHOUT_TESTS, connect, dbt_build_process
from tests.test_marts import A1, A2, ORG_A, build_landing, execution, write
from warehouse.faults import PAUSE_LOCK, WAIT_SECONDS, advisory_waiters, pause_copy_at, wait_until
from warehouse.ingest.loader import load_paths

MART_COLUMNS = (
    "id, task_id, user_id, organization_id, provider, start_time, end_time, duration_ms, "
    "tokens_used, cost_usd, baseline_cost_usd, savings_usd, status, reported_status, "
    "cost_source, pricing_id, baseline_provider, baseline_source, baseline_pricing_id, "
    "start_date, batch_id, version_count"
)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rows(connection, relation: str) -> dict[str, tuple]:
    return {
        row[1]: row
        for row in connection.execute(f"select {MART_COLUMNS} from {relation} order by task_id")
    }


def later_tasks(directory: Path, now: datetime) -> tuple[Path, datetime]:
    """The module docstring's T8, T9 (started two minutes before ``now``) and T4's completed
    version, as a landing folder; and that start."""
    directory.mkdir()
    start = now - timedelta(minutes=2)
    write(directory / "task_executions.csv", [
        execution(8, A1, ORG_A, "openai_codex", "test", iso(start),
                  iso(start + timedelta(seconds=60)), 1000, "completed"),
        execution(9, A2, ORG_A, "openai_codex", "test", iso(start),
                  iso(start + timedelta(seconds=30)), 1000, "completed"),
        execution(4, A2, ORG_A, "openai_codex", "test", "2026-03-02T10:00:00Z",
                  "2026-03-02T10:02:00Z", 2000, "completed"),
    ])  # fmt: skip
    return directory, start


def test_a_task_landing_after_a_build_is_live_at_once_with_the_cost_of_the_next_build(
    connection, dbt, tmp_path
):
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    now = datetime.now(UTC).replace(microsecond=0)
    dbt("build", as_of=now.isoformat())
    assert rows(connection, "analytics.live_task_executions") == {}

    later, start = later_tasks(tmp_path / "later", now)
    load_paths(connection, [later])

    live = rows(connection, "analytics.live_task_executions")
    assert {task: row[9:13] for task, row in live.items()} == {
        "T4": (Decimal("0.022"), Decimal("0.041"), Decimal("0.019"), "completed"),
        "T8": (Decimal("0.012"), Decimal("0.021"), Decimal("0.009"), "completed"),
        "T9": (Decimal("0.012"), Decimal("0.016"), Decimal("0.004"), "completed"),
    }
    # the current picture: each task once (T4 is in the marts still, with its old version)
    current = connection.execute(
        """
        select task_id, count(*) from (
            select task_id from analytics.task_executions as built
            where not exists (
                select from analytics.live_task_executions as live where live.id = built.id
            )
            union all
            select task_id from analytics.live_task_executions
        ) as tasks
        group by task_id order by task_id
        """
    ).fetchall()
    assert current == [(f"T{n}", 1) for n in (1, 2, 3, 4, 5, 8, 9)]

    savings = connection.execute(
        "select organization_id::text, completed_tasks, completed_tasks_live, total_cost_usd, "
        "total_baseline_cost_usd, total_savings_usd from analytics.live_savings_today"
    ).fetchall()
    if start.date() == datetime.now(UTC).date():  # T8 and T9 started today (UTC)
        assert savings == [(ORG_A, 2, 2, Decimal("0.024"), Decimal("0.037"), Decimal("0.013"))]
    recent = connection.execute(
        "select organization_id::text, provider, started_tasks, completed_tasks, failed_tasks, "
        "total_cost_usd, total_savings_usd from analytics.live_last_five_minutes"
    ).fetchall()
    assert recent == [(ORG_A, "openai_codex", 2, 2, 0, Decimal("0.024"), Decimal("0.013"))]

    dbt("build", as_of=datetime.now(UTC).isoformat())
    assert rows(connection, "analytics.live_task_executions") == {}
    built = rows(connection, "analytics.task_executions")
    for task, row in live.items():
        assert built[task] == row, task
    # the counters give the same numbers, now from the marts alone
    assert connection.execute(
        "select total_savings_usd from analytics.live_last_five_minutes"
    ).fetchall() == [(Decimal("0.013"),)]


# The current picture (docs/live.md) in one statement, so in one snapshot: its rows, its distinct
# tasks, the tasks it should hold (every task in raw but the two quarantined ones of the marts'
# data: the new ones are all valid), the live view's rows and the last build's batch.
PICTURE = """
    with picture as (
        select built.id from analytics.task_executions as built
        where not exists (
            select from analytics.live_task_executions as live where live.id = built.id
        )
        union all
        select live.id from analytics.live_task_executions as live
    )
    select
        count(*),
        count(distinct id),
        (select count(distinct id) from raw.task_executions)
        - (select count(*) from monitoring.quarantined_task_executions),
        (select count(*) from analytics.live_task_executions),
        (select max(built_from_batch_id) from analytics.task_executions)
    from picture
"""


def new_tasks(directory: Path, numbers: range) -> Path:
    """A landing file of new tasks, completed a minute ago."""
    directory.mkdir()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    write(directory / "task_executions.csv", [
        {**execution(0, A1, ORG_A, "openai_codex", "test", iso(start),
                     iso(start + timedelta(seconds=60)), 1000, "completed"),
         "id": f"00000000-0000-4000-8000-{number:012d}", "task_id": f"N{number}"}
        for number in numbers
    ])  # fmt: skip
    return directory / "task_executions.csv"


def test_marts_plus_live_count_each_task_once_across_a_build_that_starts_while_a_load_runs(
    connection, dbt, tmp_path
):
    """A dashboard polls the current picture while a load holds its batch id uncommitted, a
    build starts (and waits for that load: the batch horizon), the load commits, more loads land
    during the build, and the next build runs: every answer holds each task exactly once, and
    every task landed so far, and the views are never missing."""
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt(*WITHOUT_TESTS)
    answers: list[tuple] = []
    stop = threading.Event()

    def dashboard() -> None:
        with connect() as reader:
            while not stop.is_set():
                try:
                    answers.append(reader.execute(PICTURE).fetchone())
                except psycopg.Error as error:  # a view missing during the build, say
                    answers.append((type(error).__name__, str(error)))
                stop.wait(0.02)

    poller = threading.Thread(target=dashboard)
    poller.start()
    try:
        late_file = new_tasks(tmp_path / "late", range(100, 103))
        with pause_copy_at(connection, late_file, line=3):  # the late load's 2nd row waits

            def load_late() -> None:
                with connect() as loads:
                    load_paths(loads, [late_file])

            late_load = threading.Thread(target=load_late)
            late_load.start()
            wait_until(
                lambda: advisory_waiters(connection, PAUSE_LOCK) != [],
                "the late load holds its batch id",
            )
            load_paths(connection, [new_tasks(tmp_path / "on_time", range(110, 113))])
            build = dbt_build_process(tmp_path / "dbt-build.log", *WITHOUT_TESTS)
            wait_until(
                lambda: (
                    build.poll() is not None or advisory_waiters(connection, HORIZON_LOCK) != []
                ),
                "the build waits for the late load, or ends",
            )
        late_load.join()
        number = 200
        while build.poll() is None:  # loads keep landing while the build runs
            load_paths(
                connection, [new_tasks(tmp_path / f"during_{number}", range(number, number + 2))]
            )
            number += 2
        assert build.wait(timeout=WAIT_SECONDS) == 0, (tmp_path / "dbt-build.log").read_text()[
            -2000:
        ]
        dbt(*WITHOUT_TESTS)  # the next build
        wait_until(lambda: len(answers) > 0 and answers[-1][3:4] == (0,), "a poll after it")
    finally:
        stop.set()
        poller.join()

    assert [answer for answer in answers if len(answer) != 5] == []  # no query failed
    assert [answer for answer in answers if not answer[0] == answer[1] == answer[2]] == []
    assert len({answer[4] for answer in answers}) >= 3  # polls spanned both builds' commits
    assert max(answer[3] for answer in answers) >= 6  # tasks were live meanwhile
    assert answers[-1][:4] == (answers[-1][2], answers[-1][2], 5 + 6 + number - 200, 0)


def ledger(connection) -> list[int]:
    return [row[0] for row in connection.execute(
        "select batch_id from raw.live_store_batches order by batch_id"
    )]  # fmt: skip


def stored_tasks(connection) -> list[str]:
    return [row[0] for row in connection.execute(
        "select task_id from staging.int_live_task_store order by task_id"
    )]  # fmt: skip


def computed_at_each_query(connection) -> dict[str, tuple]:
    """The live view with an empty ledger: every task computed by the query, none read from
    the store (rolled back)."""
    with connection.transaction(force_rollback=True):
        connection.execute("delete from raw.live_store_batches")
        return rows(connection, "analytics.live_task_executions")


def test_the_live_store_holds_what_the_loader_landed_and_the_view_is_exact_for_any_writer(
    connection, dbt, tmp_path
):
    """The loader ranks, checks and prices each task file's tasks into the live store in its
    transaction (docs/live.md, "The live store"); the live view reads them from it, and
    computes at each query the tasks of batches the ledger does not list (another writer's),
    with the same answer either way."""
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    now = datetime.now(UTC).replace(microsecond=0)
    dbt(*WITHOUT_TESTS, as_of=now.isoformat())
    assert (ledger(connection), stored_tasks(connection)) == ([], [])

    later, start = later_tasks(tmp_path / "later", now)
    [landed] = load_paths(connection, [later])
    assert ledger(connection) == [landed.batch_id]
    assert stored_tasks(connection) == ["T4", "T8", "T9"]
    live = rows(connection, "analytics.live_task_executions")
    assert {task: row[9:13] for task, row in live.items()} == {
        "T4": (Decimal("0.022"), Decimal("0.041"), Decimal("0.019"), "completed"),
        "T8": (Decimal("0.012"), Decimal("0.021"), Decimal("0.009"), "completed"),
        "T9": (Decimal("0.012"), Decimal("0.016"), Decimal("0.004"), "completed"),
    }
    assert computed_at_each_query(connection) == live

    # another writer: T9 fails in a newer version and T10 is new, inserted straight into raw
    other = connection.execute(
        "insert into raw.load_batches (table_name, source_file, file_format, file_checksum, "
        "file_bytes, status, started_at) values ('task_executions', 'platform inserts', "
        "'insert', 'inserts', 0, 'loaded', now()) returning batch_id"
    ).fetchone()[0]
    for line, (number, end, status) in enumerate(
        ((9, start + timedelta(seconds=90), "failed"), (10, start + timedelta(seconds=20),
                                                        "completed")), start=1):  # fmt: skip
        connection.execute(
            "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
            "provider, start_time, end_time, tokens_used, cost_usd, status, updated_at, "
            "_batch_id, _source_file, _source_line) values (%s, %s, %s, %s, 'test', "
            "'openai_codex', %s, %s, 1000, 0, %s, %s, %s, 'platform inserts', %s)",
            (f"00000000-0000-4000-8000-{number:012d}", f"T{number}", A2, ORG_A, start, end,
             status, end, other, line),
        )  # fmt: skip
    assert ledger(connection) == [landed.batch_id]  # not listed: computed at each query
    live = rows(connection, "analytics.live_task_executions")
    assert {task: (row[12], row[21]) for task, row in live.items()} == {
        "T4": ("completed", 2), "T8": ("completed", 1), "T9": ("failed", 2),
        "T10": ("completed", 1),
    }  # fmt: skip
    # 20 s: baseline 0.01 + 0.001 + 0.01 * 20 / 60 = 0.014333 (to 6 places), cost 0.012
    assert live["T10"][9:12] == (Decimal("0.012"), Decimal("0.014333"), Decimal("0.002333"))
    assert computed_at_each_query(connection) == live

    # a loaded version that breaks a hard rule takes its task out of the store and the view
    broken = tmp_path / "broken"
    broken.mkdir()
    write(broken / "task_executions.csv", [  # newest (updated now), ends before it starts
        {**execution(8, A1, ORG_A, "openai_codex", "test", iso(start),
                     iso(start - timedelta(seconds=60)), 1000, "completed"),
         "updated_at": iso(now)},
    ])  # fmt: skip
    load_paths(connection, [broken])
    assert stored_tasks(connection) == ["T4", "T9"]
    assert sorted(rows(connection, "analytics.live_task_executions")) == ["T10", "T4", "T9"]

    # rebuilding the references empties the ledger: the view computes every task again
    dbt("run", "--select", "stg_platform__provider_pricing", as_of=now.isoformat())
    assert ledger(connection) == []
    assert rows(connection, "analytics.live_task_executions") == computed_at_each_query(connection)

    # a build takes every task in; the store and the ledger start again from it
    dbt(*WITHOUT_TESTS, as_of=datetime.now(UTC).isoformat())
    assert (ledger(connection), stored_tasks(connection)) == ([], [])
    assert rows(connection, "analytics.live_task_executions") == {}
