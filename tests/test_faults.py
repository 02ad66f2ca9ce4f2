"""Faults under load, at small scale: a build killed with SIGKILL and run again, a load killed
mid-file and run again, loads committing while a build runs (docs/concurrency.md).

Every fault is placed at a known point, never left to timing: the test holds a lock that the
process under test needs next (a table lock, or an advisory lock that a test-only trigger on
a raw table takes at a given line of a given file) and waits in pg_locks until the process
waits for it. The helpers that place the faults are shared with the scale bench's faults
phase (``warehouse/faults.py``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import FIXED_AS_OF
from warehouse import settings
from warehouse.dbt import dbt_environment
from warehouse.faults import (
    PAUSE_LOCK,
    WAIT_SECONDS,
    advisory_waiters,
    compared_columns,
    pause_copy_at,
    wait_for_backends_to_end,
    wait_until,
    waiting_pids,
)
from warehouse.ingest.contract import TABLES
from warehouse.ingest.loader import load_paths
from warehouse.synthetic.chaos import QUARANTINE_KINDS, REJECTION_KINDS
from warehouse.synthetic.generator import GenerationSummary, GeneratorConfig, generate

END = date(2026, 3, 6)
HORIZON_LOCK = 731_003  # warehouse/ingest/migrations/0002_batch_horizon.sql
BIN = Path(sys.executable).parent
# Builds whose data tests only slow the test down (they write nothing to the marts).
WITHOUT_TESTS = ("build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


def landing_files(tmp_path: Path, days: int) -> tuple[Path, GenerationSummary]:
    landing = tmp_path / "landing"
    summary = generate(
        landing, GeneratorConfig(orgs=1, days=days, seed=11, end_date=END, chaos=True)
    )
    return landing, summary


def reference(landing: Path) -> list[Path]:
    return [
        landing / f"{table}.csv"
        for table in ("organizations", "teams", "users", "provider_pricing")
    ]


def day_files(landing: Path, day: date) -> tuple[Path, Path]:
    return (landing / f"task_executions__{day}.csv", landing / f"routing_decisions__{day}.csv")


def connect() -> psycopg.Connection:
    conn = settings.connection()
    return psycopg.connect(
        host=conn.host, port=conn.port, user=conn.user, dbname=conn.database, autocommit=True
    )


def scalar(connection: psycopg.Connection, query: str, *params: object) -> object:
    return connection.execute(query, params).fetchone()[0]


def other_backends(connection: psycopg.Connection, mine: list[int]) -> list[int]:
    return [
        row[0]
        for row in connection.execute(
            "select pid from pg_stat_activity where datname = current_database() "
            "and pid <> all(%s)",
            (mine,),
        )
    ]


def dbt_build_process(output: Path, *args: str) -> subprocess.Popen:
    """`dbt build` in its own process, as a scheduler runs it; its output goes to ``output``."""
    with open(output, "w", encoding="utf-8") as handle:
        return subprocess.Popen(
            [
                str(BIN / "dbt"),
                *(args or ["build"]),
                "--project-dir",
                str(settings.project_dir()),
                "--profiles-dir",
                str(settings.profiles_dir()),
            ],
            env={**os.environ, **dbt_environment(), "WAREHOUSE_AS_OF": FIXED_AS_OF},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def data_lines(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def mart_models() -> list[tuple[str, str]]:
    """(schema, name) of every model the build wrote to analytics and monitoring."""
    manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    return sorted(
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] in ("analytics", "monitoring")
    )


def dump(connection: psycopg.Connection, models: list[tuple[str, str]]) -> dict[str, list]:
    """Every row of every model, as text, ordered; bookkeeping columns left out."""
    tables = {}
    for schema, table in models:
        columns = compared_columns(connection, schema, table)
        listed = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
        query = sql.SQL("select {} from {} order by {}").format(
            listed,
            sql.Identifier(schema, table),
            sql.SQL(", ").join(sql.SQL(str(n)) for n in range(1, len(columns) + 1)),
        )
        tables[f"{schema}.{table}"] = connection.execute(query).fetchall()
    return tables


def test_a_batch_id_is_never_drawn_while_a_horizon_is_taken(connection):
    """The loader's side of the horizon: a load holding a batch id makes the horizon wait for
    its commit, and a load starting while the horizon is taken draws its id after it."""
    insert_batch = (
        "insert into raw.load_batches (table_name, source_file, file_format, "
        "file_checksum, file_bytes, status, started_at) values ('users', 'users.csv', "
        "'csv', %s, 0, 'loaded', now()) returning batch_id"
    )
    with connect() as load, connect() as build:
        load.execute("begin")
        in_flight = scalar(load, insert_batch, "a")
        horizon: list[int] = []
        taker = threading.Thread(
            target=lambda: horizon.append(scalar(build, "select raw.take_batch_horizon()"))
        )
        taker.start()
        wait_until(lambda: advisory_waiters(connection, HORIZON_LOCK) != [], "the horizon waits")
        load.execute("commit")
        taker.join()
        assert horizon == [in_flight]

        connection.execute("select pg_advisory_lock(%s)", (HORIZON_LOCK,))  # a horizon, held
        drawn: list[int] = []
        loader = threading.Thread(target=lambda: drawn.append(scalar(load, insert_batch, "b")))
        loader.start()
        wait_until(lambda: advisory_waiters(connection, HORIZON_LOCK) != [], "the load waits")
        last_value = "select pg_sequence_last_value('raw.load_batches_batch_id_seq')"
        assert scalar(connection, last_value) == in_flight  # no id drawn while it waits
        connection.execute("select pg_advisory_unlock(%s)", (HORIZON_LOCK,))
        loader.join()
        assert drawn == [in_flight + 1]
    assert connection.execute("select batch_id from raw.batch_horizons").fetchall() == [
        (in_flight,)
    ]


def test_a_load_killed_mid_file_leaves_nothing_and_its_rerun_loads_the_file_once(
    connection, tmp_path
):
    landing, _ = landing_files(tmp_path, days=1)
    load_paths(connection, reference(landing))
    tasks, _ = day_files(landing, END)
    lines = data_lines(tasks)
    loaded_before = scalar(connection, "select count(*) from raw.task_executions")

    with pause_copy_at(connection, tasks, line=40):
        loader = subprocess.Popen(
            [str(BIN / "warehouse"), "load", str(tasks)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: advisory_waiters(connection, PAUSE_LOCK) != [], "the COPY is paused")
        (backend,) = advisory_waiters(connection, PAUSE_LOCK)
        batch_id = scalar(
            connection,
            "select pg_sequence_last_value(%s::regclass)",
            "raw.load_batches_batch_id_seq",
        )
        # mid-file: its batch is drawn and the rows before line 40 are written, uncommitted
        os.kill(loader.pid, signal.SIGKILL)
        assert loader.wait() == -signal.SIGKILL
    wait_for_backends_to_end(connection, [backend])

    of_the_batch = {
        table: scalar(
            connection, f"select count(*) from raw.{table} where _batch_id = %s", batch_id
        )
        for table in TABLES
    }
    of_the_batch["rejected_rows"] = scalar(
        connection, "select count(*) from raw.rejected_rows where batch_id = %s", batch_id
    )
    of_the_batch["load_batches"] = scalar(
        connection, "select count(*) from raw.load_batches where batch_id = %s", batch_id
    )
    assert of_the_batch == dict.fromkeys(of_the_batch, 0)
    assert landed(connection, tasks) == (0, 0, [])
    assert scalar(connection, "select count(*) from raw.task_executions") == loaded_before

    (rerun,) = load_paths(connection, [tasks])
    assert (rerun.status, rerun.rows_read, rerun.rows_loaded + rerun.rows_rejected) == (
        "loaded",
        lines,
        lines,
    )
    assert landed(connection, tasks) == (rerun.rows_loaded, rerun.rows_rejected, ["loaded"])
    (third,) = load_paths(connection, [tasks])
    assert (third.status, third.batch_id) == ("skipped", rerun.batch_id)
    assert landed(connection, tasks) == (rerun.rows_loaded, rerun.rows_rejected, ["loaded"])


def landed(connection: psycopg.Connection, path: Path) -> tuple[int, int, list[str]]:
    """What raw holds of one file: its rows, its rejected rows, the status of its batches."""
    name = str(path)
    return (
        scalar(
            connection, "select count(*) from raw.task_executions where _source_file = %s", name
        ),
        scalar(connection, "select count(*) from raw.rejected_rows where source_file = %s", name),
        [
            row[0]
            for row in connection.execute(
                "select status from raw.load_batches where source_file = %s order by batch_id",
                (name,),
            )
        ],
    )


def test_a_build_killed_mid_run_and_run_again_equals_an_uninterrupted_build(
    connection, dbt, other_database, monkeypatch, tmp_path
):
    landing, _ = landing_files(tmp_path, days=2)
    deliveries = [
        [*reference(landing), *day_files(landing, END - timedelta(days=1))],
        list(day_files(landing, END)),
    ]
    load_paths(connection, deliveries[0])
    dbt(*WITHOUT_TESTS)
    first_watermark = scalar(connection, "select batch_id from staging.int_batch_watermark")
    new_tasks, new_decisions = load_paths(connection, deliveries[1])

    with connect() as holder:
        holder.execute("begin")
        holder.execute("lock table analytics.organization_analytics in access exclusive mode")
        build = dbt_build_process(tmp_path / "dbt-build.log")
        wait_until(
            lambda: (
                waiting_pids(connection, "relation = 'analytics.organization_analytics'::regclass")
                != []
            ),
            "the build reaches organization_analytics",
        )
        # mid-run: the incremental staging and task marts took in the new day, the rollup not
        assert (
            scalar(holder, "select max(last_batch_id) from staging.stg_platform__task_executions")
            == new_tasks.batch_id
        )
        assert (
            scalar(holder, "select max(built_from_batch_id) from analytics.task_executions")
            == new_decisions.batch_id
        )
        assert (
            scalar(holder, "select max(built_from_batch_id) from analytics.organization_analytics")
            == first_watermark
        )
        build.send_signal(signal.SIGKILL)
        assert build.wait() == -signal.SIGKILL
        mine = [
            scalar(connection, "select pg_backend_pid()"),
            scalar(holder, "select pg_backend_pid()"),
        ]
        orphans = other_backends(connection, mine)
        holder.execute("rollback")
    wait_for_backends_to_end(connection, orphans)
    dbt(*WITHOUT_TESTS)  # run again
    models = mart_models()
    rerun = dump(connection, models)

    monkeypatch.setenv("PGDATABASE", other_database)
    with connect() as fresh:
        for files in deliveries:  # the same loads in the same order: the same batch ids
            load_paths(fresh, files)
        dbt(*WITHOUT_TESTS)
        uninterrupted = dump(fresh, models)
    assert {name: len(rows) for name, rows in rerun.items()} == {
        name: len(rows) for name, rows in uninterrupted.items()
    }
    for name, rows in rerun.items():
        assert rows == uninterrupted[name], name
    assert len(rerun["analytics.organization_analytics"]) > 0


def test_loads_committing_while_a_build_runs_are_all_in_the_next_build(connection, dbt, tmp_path):
    """The interleaving that lost rows before the batch horizon: a load draws its batch id,
    a later load commits, a build starts, then the first load commits. Small loads keep
    arriving during the build. After the next build every task is in the marts or in
    quarantine, every bad line in rejected_rows, every decision of a mart task in the marts."""
    landing, summary = landing_files(tmp_path, days=3)
    days = [END - timedelta(days=2), END - timedelta(days=1), END]
    load_paths(connection, [*reference(landing), *day_files(landing, days[0])])
    dbt(*WITHOUT_TESTS)
    late_tasks, on_time_tasks = day_files(landing, days[1])[0], day_files(landing, days[2])[0]
    decisions = [day_files(landing, day)[1] for day in days[1:]]

    with pause_copy_at(connection, late_tasks, line=40):
        late: list = []

        def load_late() -> None:
            with connect() as loads:
                late.extend(load_paths(loads, [late_tasks]))

        late_load = threading.Thread(target=load_late)
        late_load.start()
        wait_until(
            lambda: advisory_waiters(connection, PAUSE_LOCK) != [],
            "the late load holds its batch id",
        )
        (on_time,) = load_paths(connection, [on_time_tasks])
        build = dbt_build_process(tmp_path / "dbt-build.log", *WITHOUT_TESTS)
        wait_until(
            lambda: build.poll() is not None or advisory_waiters(connection, HORIZON_LOCK) != [],
            "the build waits for the late load, or ends",
        )
        waited_for_the_late_load = build.poll() is None  # (before the fix it had ended)
    late_load.join()
    assert late[0].batch_id < on_time.batch_id
    during: list = []
    with connect() as loads:
        for path in decisions:  # small loads while the build runs
            during.extend(load_paths(loads, [path]))
    assert build.wait(timeout=WAIT_SECONDS) == 0, (tmp_path / "dbt-build.log").read_text()[-2000:]
    assert [result.status for result in during] == ["loaded", "loaded"]
    dbt(*WITHOUT_TESTS)  # the next build

    task_lines = sum(
        rows for name, rows in summary.file_rows.items() if name.startswith("task_executions")
    )
    quarantined = sum(summary.chaos[f"quarantine_{kind}"] for kind in QUARANTINE_KINDS)
    rejected = sum(summary.chaos[f"rejected_{kind}"] for kind in REJECTION_KINDS)
    counts = connection.execute("""
        select
            (select count(*) from raw.task_executions),
            (select count(*) from raw.rejected_rows where table_name = 'task_executions'),
            (select count(distinct id) from raw.task_executions),
            (select count(*) from analytics.task_executions),
            (select count(*) from monitoring.quarantined_task_executions)
    """).fetchone()
    raw_versions, raw_rejected, raw_tasks, mart_tasks, quarantine = counts
    assert raw_versions + raw_rejected == task_lines
    assert raw_rejected == rejected
    assert raw_tasks == summary.distinct_tasks
    assert (mart_tasks, quarantine) == (summary.distinct_tasks - quarantined, quarantined)
    assert waited_for_the_late_load  # its horizon was taken once the late load committed
    reconciliation = (
        "select sum(abs(raw_vs_mart_task_difference)) from monitoring.reconciliation_daily"
    )
    assert scalar(connection, reconciliation) == 0
    decisions_of_mart_tasks = """
        select count(distinct decisions.id) from raw.routing_decisions as decisions
        inner join analytics.task_executions as tasks on decisions.task_execution_id = tasks.id
    """
    assert scalar(connection, decisions_of_mart_tasks) == scalar(
        connection, "select count(*) from analytics.routing_decisions"
    )
