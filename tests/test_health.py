"""Database health (docs/operations.md): the real Dagster job records a snapshot of a small
hand-built table, forced thresholds raise exactly their alert, and the near-real-time sensor
starts a build only for raw batches newer than the last build's horizon, never beside a build.

Hand-built table: public.health_probe, primary key id, index by_note (used once by an index
scan) and index by_size (never used); 100 rows inserted, 40 deleted by a sequential scan: 60
live, 40 dead tuples, the primary key never scanned.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from orchestration.defs.resources import (
    WarehouseResource,
    health_resource,
    marts_refresh_resource,
)
from warehouse import postgres, settings
from warehouse.dbt import run_dbt


@pytest.fixture(scope="module")
def defs(server) -> dg.Definitions:
    """The code location, after `dbt parse` wrote the manifest it reads (as `make manifest`)."""
    run_dbt(["parse", "--target-path", str(settings.project_dir() / "target")])
    return importlib.import_module("orchestration.definitions").defs


@pytest.fixture(autouse=True)
def roomy_disk(monkeypatch) -> None:
    """The machine's own disk may be over 80 % full: only the disk test alerts on it."""
    monkeypatch.setenv("WAREHOUSE_DISK_MAX_PERCENT", "100")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # In memory: the runs' thousands of events are not each written to a SQLite file (that
    # was half of a full build's time here). The tests that need a stored instance make one.
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def flush_stats(connection: psycopg.Connection) -> None:
    """Publish this session's table and index counters now (not within the second)."""
    connection.execute("select pg_stat_force_next_flush()")
    connection.execute("select 1")


@pytest.fixture
def probe(connection) -> psycopg.Connection:
    connection.execute(
        """
        create table public.health_probe (id integer primary key, note text, size integer);
        create index by_note on public.health_probe (note);
        create index by_size on public.health_probe (size);
        insert into public.health_probe
        select number, 'note ' || number, number from generate_series(1, 100) as number;
        set enable_indexscan = off;
        set enable_bitmapscan = off;
        delete from public.health_probe where id <= 40;
        reset enable_indexscan;
        reset enable_bitmapscan;
        analyze public.health_probe;
        """
    )
    connection.execute("set enable_seqscan = off")
    assert connection.execute(
        "select id from public.health_probe where note = 'note 50'"
    ).fetchall() == [(50,)]
    connection.execute("reset enable_seqscan")
    flush_stats(connection)
    return connection


def run_health(defs, instance) -> dg.ExecuteInProcessResult:
    """The database_health job in process, its thresholds read from the environment as the
    code location reads them."""
    result = defs.resolve_job_def("database_health").execute_in_process(
        instance=instance, resources={"health": health_resource()}
    )
    assert result.success
    return result


def health_alerts(connection) -> list[tuple]:
    return connection.execute(
        "select rule, severity, subject, alert_date from monitoring.alerts order by alert_id"
    ).fetchall()


def test_the_health_job_records_one_snapshot_of_tables_indexes_and_the_server(
    defs, probe, instance, database
):
    run_health(defs, instance)

    connection = probe
    (snapshot,) = connection.execute(
        "select snapshot_id, database_name, max_connections, connections >= 1, "
        "cache_hit_percentage between 0 and 100, slow_query_ms, has_pg_stat_statements, "
        "database_bytes = pg_database_size(current_database()) or database_bytes > 0, "
        "coalesce(disk_free_bytes between 1 and disk_total_bytes, false) "
        "from monitoring.health_snapshots"
    ).fetchall()
    max_connections = int(connection.execute("show max_connections").fetchone()[0])
    local = settings.uses_embedded_server()  # the filesystem is read only for a local server
    assert snapshot == (1, database.database, max_connections, True, True, 500, False, True, local)
    rows = connection.execute(
        "select relation_name, relation_kind, table_name, live_tuples, dead_tuples, "
        "last_vacuum_at, index_scans, is_unused_index, previous_total_bytes, growth_bytes "
        "from monitoring.health_relations where schema_name = 'public' order by relation_name"
    ).fetchall()
    assert rows == [
        ("by_note", "index", "health_probe", None, None, None, 1, False, None, None),
        ("by_size", "index", "health_probe", None, None, None, 0, True, None, None),
        ("health_probe", "table", "health_probe", 60, 40, None, None, False, None, None),
        ("health_probe_pkey", "index", "health_probe", None, None, None, 0, False, None, None),
    ]
    # the landing tables (and their partitions) are there too, sized
    assert connection.execute(
        "select relation_kind, total_bytes > 0 from monitoring.health_relations "
        "where schema_name = 'raw' and relation_name = 'load_batches'"
    ).fetchall() == [("table", True)]
    assert connection.execute("select count(*) from monitoring.health_queries").fetchone() == (0,)
    assert health_alerts(connection) == []


def test_a_table_that_more_than_doubled_and_passed_the_minimum_size_alerts_once(
    defs, probe, instance, database, monkeypatch
):
    monkeypatch.setenv("WAREHOUSE_TABLE_GROWTH_MIN_MB", "1")
    run_health(defs, instance)
    connection = probe
    connection.execute(
        "insert into public.health_probe select number, repeat('x', 200), number "
        "from generate_series(1000, 20000) as number"
    )
    run_health(defs, instance)

    before, after = connection.execute(
        "select total_bytes, previous_total_bytes, growth_bytes from monitoring.health_relations "
        "where relation_name = 'health_probe' order by snapshot_id"
    ).fetchall()
    assert before[1:] == (None, None)
    assert after[1:] == (before[0], after[0] - before[0])
    assert after[0] > 2 * before[0]
    assert after[0] >= 1024 * 1024
    today = datetime.now(UTC).date()
    assert health_alerts(connection) == [("table_growth", "warning", "public.health_probe", today)]


def test_a_cache_hit_minimum_of_101_percent_raises_exactly_that_alert_once(
    defs, connection, instance, database, monkeypatch
):
    monkeypatch.setenv("WAREHOUSE_CACHE_HIT_MIN_PERCENT", "101")
    run_health(defs, instance)
    run_health(defs, instance)  # the same alert again the same day: stored once

    today = datetime.now(UTC).date()
    assert health_alerts(connection) == [
        ("cache_hit_ratio_low", "warning", f"database {database.database}", today)
    ]
    (message,) = connection.execute("select message from monitoring.alerts").fetchone()
    assert message.endswith("%, under 101%")


def test_a_disk_fuller_than_its_maximum_raises_exactly_that_alert(
    defs, connection, instance, monkeypatch
):
    if not settings.uses_embedded_server():
        pytest.skip("the disk is read only for the embedded server; PGHOST names another")
    monkeypatch.setenv("WAREHOUSE_DISK_MAX_PERCENT", "0")
    run_health(defs, instance)

    today = datetime.now(UTC).date()
    assert health_alerts(connection) == [
        ("disk_usage_high", "warning", "data directory filesystem", today)
    ]
    total, free = connection.execute(
        "select disk_total_bytes, disk_free_bytes from monitoring.health_snapshots"
    ).fetchone()
    (details,) = connection.execute("select details from monitoring.alerts").fetchone()
    assert details == {
        "disk_total_bytes": total,
        "disk_free_bytes": free,
        "disk_used_percentage": round(100 * (total - free) / total, 2),
        "snapshot_id": 1,
    }


def test_a_query_running_over_the_slow_threshold_is_recorded_and_alerts(
    defs, connection, instance, database, monkeypatch
):
    """WAREHOUSE_SLOW_QUERY_MS=100 (the specification's threshold) while another session
    sleeps in pg_sleep."""
    monkeypatch.setenv("WAREHOUSE_SLOW_QUERY_MS", "100")
    with postgres.connect(autocommit=True) as sleeper:
        pid = sleeper.info.backend_pid
        cancelled: list[bool] = []

        def sleep() -> None:
            with pytest.raises(psycopg.errors.QueryCanceled):
                sleeper.execute("select pg_sleep(30)")
            cancelled.append(True)

        thread = threading.Thread(target=sleep, daemon=True)
        thread.start()
        started = None
        for _ in range(100):
            started = connection.execute(
                "select query_start from pg_stat_activity where pid = %s and state = 'active'",
                (pid,),
            ).fetchone()
            if started:
                break
            time.sleep(0.05)
        assert started, "the pg_sleep session never showed as active"
        time.sleep(0.3)
        try:
            run_health(defs, instance)
        finally:
            connection.execute("select pg_cancel_backend(%s)", (pid,))
            thread.join(timeout=10)
        assert cancelled == [True]

    rows = connection.execute(
        "select query_source, pid, query_started_at, running_ms >= 300, query "
        "from monitoring.health_queries"
    ).fetchall()
    assert rows == [("pg_stat_activity", pid, started[0], True, "select pg_sleep(30)")]
    today = datetime.now(UTC).date()
    subject = f"backend {pid} since {started[0].astimezone(UTC).isoformat()}"
    assert health_alerts(connection) == [("slow_query", "warning", subject, today)]


def test_the_health_command_records_a_snapshot_and_prints_its_alerts(
    connection, database, monkeypatch, capsys
):
    """`warehouse health` (no Dagster): the same snapshot and rules, settings read by
    warehouse/settings.py; a bad setting is an error naming the variable."""
    from warehouse.cli import main

    monkeypatch.setenv("WAREHOUSE_CACHE_HIT_MIN_PERCENT", "101")
    assert main(["health"]) == 0
    printed = capsys.readouterr().out.splitlines()
    (relations,) = connection.execute("select count(*) from monitoring.health_relations").fetchone()
    (hit,) = connection.execute(
        "select cache_hit_percentage from monitoring.health_snapshots"
    ).fetchone()
    assert printed == [
        f"health snapshot 1: {relations} relations, 0 slow queries (monitoring.health_snapshots)",
        f"alert cache_hit_ratio_low [warning] buffer cache hit ratio is {hit}%, under 101%",
    ]
    assert [row[0] for row in health_alerts(connection)] == ["cache_hit_ratio_low"]

    monkeypatch.setenv("WAREHOUSE_TABLE_GROWTH_FACTOR", "twice")
    assert main(["health"]) == 1
    assert capsys.readouterr().err == (
        "error: WAREHOUSE_TABLE_GROWTH_FACTOR must be a number of at least 1, not 'twice'\n"
    )


def test_the_health_job_runs_every_15_minutes_in_utc(defs):
    schedule = defs.resolve_schedule_def("database_health_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "*/15 * * * *",
        "UTC",
        "database_health",
    )


def insert_platform_batch(connection) -> int:
    """What the platform does when it inserts rows straight into raw: a batch, then its rows."""
    (batch_id,) = connection.execute(
        "insert into raw.load_batches (table_name, source_file, file_format, file_checksum, "
        "file_bytes, status, started_at) values ('task_executions', 'platform', 'insert', "
        "gen_random_uuid()::text, 0, 'loaded', now()) returning batch_id"
    ).fetchone()
    connection.execute(
        "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
        "provider, start_time, status, updated_at, _batch_id, _source_file, _source_line) "
        "values (gen_random_uuid(), 'T', gen_random_uuid(), gen_random_uuid(), 'bug_fix', "
        "'openai_codex', '2026-03-01T10:00:00Z', 'pending', now(), %s, 'platform', 1)",
        (batch_id,),
    )
    return batch_id


def evaluate_raw_sensor(defs, instance) -> dg.SensorExecutionData:
    sensor = defs.resolve_sensor_def("raw_batches_sensor")
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": WarehouseResource(), "marts_refresh": marts_refresh_resource()},
    )
    return sensor.evaluate_tick(context)


def test_new_raw_batches_start_the_incremental_build_once_the_last_one_is_old_enough(
    defs, connection, instance
):
    sensor = defs.resolve_sensor_def("raw_batches_sensor")
    assert sensor.job_name == "daily_build"

    tick = evaluate_raw_sensor(defs, instance)
    assert (tick.run_requests, tick.skip_message) == (
        [],
        "no load batch newer than the last build's horizon (batch 0)",
    )

    first = insert_platform_batch(connection)  # never built: build now
    (request,) = evaluate_raw_sensor(defs, instance).run_requests
    assert (request.run_key, request.run_config, request.tags) == (
        f"raw-batch-{first}",
        {},  # the daily build's selection, as of now
        {"warehouse/raw_batch": str(first), "dagster/sensor_name": "raw_batches_sensor"},
    )

    # a build starts: it takes its horizon (macros/batch_horizon.sql) and has read everything
    assert connection.execute("select raw.take_batch_horizon()").fetchone() == (first,)
    tick = evaluate_raw_sensor(defs, instance)
    assert tick.skip_message == (
        f"no load batch newer than the last build's horizon (batch {first})"
    )

    # a new batch within 5 minutes of that build's start waits...
    second = insert_platform_batch(connection)
    (taken_at,) = connection.execute("select max(taken_at) from raw.batch_horizons").fetchone()
    tick = evaluate_raw_sensor(defs, instance)
    assert tick.run_requests == []
    assert tick.skip_message == (
        f"batch {second} waits: the last build started at "
        f"{taken_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, under 5 minutes ago"
    )
    # ...and goes once it started 5 minutes ago
    connection.execute(
        "update raw.batch_horizons set taken_at = %s",
        (datetime.now(UTC) - timedelta(minutes=5, seconds=1),),
    )
    (request,) = evaluate_raw_sensor(defs, instance).run_requests
    assert request.run_key == f"raw-batch-{second}"


def test_the_raw_batch_sensor_skips_while_a_build_is_starting_or_running(
    defs, connection, instance
):
    from orchestration.defs.jobs import BUILD_TAGS

    insert_platform_batch(connection)
    for status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED):
        run = instance.add_run(
            dg.DagsterRun(job_name="hourly_status_refresh", status=status, tags=BUILD_TAGS)
        )
        tick = evaluate_raw_sensor(defs, instance)
        assert tick.run_requests == []
        assert tick.skip_message == (
            f"a build is in progress: hourly_status_refresh run {run.run_id} is "
            f"{status.value.lower()}"
        )
        instance.delete_run(run.run_id)
    (request,) = evaluate_raw_sensor(defs, instance).run_requests
    assert request.run_key.startswith("raw-batch-")


def test_rows_the_platform_inserts_reach_the_marts_through_the_requested_build(
    defs, connection, instance, tmp_path
):
    """End to end: reference data loaded from files, then a completed task inserted straight
    into raw; the sensor's run (the daily build's selection) puts it in the marts and takes a
    horizon, after which the sensor has nothing to do."""
    from tests.test_dagster import reference_data, task_row
    from warehouse.ingest.loader import load_paths

    reference_data(tmp_path / "landing")
    assert {result.status for result in load_paths(connection, [tmp_path / "landing"])} == {
        "loaded"
    }
    (batch_id,) = connection.execute(
        "insert into raw.load_batches (table_name, source_file, file_format, file_checksum, "
        "file_bytes, status, started_at) values ('task_executions', 'platform', 'insert', "
        "'platform-1', 0, 'loaded', now()) returning batch_id"
    ).fetchone()
    row = task_row("7", datetime(2026, 3, 1, 10, tzinfo=UTC), "completed")
    connection.execute(
        "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
        "provider, start_time, end_time, tokens_used, cost_usd, status, updated_at, _batch_id, "
        "_source_file, _source_line) values (%(id)s, %(task_id)s, %(user_id)s, "
        "%(organization_id)s, %(task_type)s, %(provider)s, %(start_time)s, %(end_time)s, "
        "%(tokens_used)s, %(cost_usd)s, %(status)s, %(updated_at)s, %(batch_id)s, 'platform', 1)",
        {**row, "batch_id": batch_id},
    )

    (request,) = evaluate_raw_sensor(defs, instance).run_requests
    assert request.run_key == f"raw-batch-{batch_id}"
    run = defs.resolve_job_def("daily_build").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    assert run.success
    assert connection.execute(
        "select task_id, status from analytics.task_executions"
    ).fetchall() == [("7", "completed")]
    tick = evaluate_raw_sensor(defs, instance)
    assert tick.skip_message == (
        f"no load batch newer than the last build's horizon (batch {batch_id})"
    )
