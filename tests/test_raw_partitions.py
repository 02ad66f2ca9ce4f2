"""raw.task_executions is partitioned by month of start_time (migration 0005): the loader
creates the months it needs, a row of a month without a partition waits in the default one,
and nothing is lost or moved twice."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.test_loader import TASK_1, TASK_2, task_row, write_csv
from warehouse import postgres
from warehouse.ingest import migrations
from warehouse.ingest.loader import load_paths
from warehouse.ingest.migrations import apply_migrations

TASK_3 = "33333333-3333-4333-8333-333333333333"
ROWS_BY_PARTITION = (
    "select tableoid::regclass::text, count(*) from raw.task_executions group by 1 order by 1"
)


def by_partition(connection: psycopg.Connection) -> list[tuple[str, int]]:
    return connection.execute(ROWS_BY_PARTITION).fetchall()


def month_rows(day: str, *ids: str) -> list[dict[str, str]]:
    return [
        task_row(id=task, task_id=f"TASK-{task[-1]}", start_time=f"{day}T10:00:00Z",
                 end_time=f"{day}T10:01:00Z", updated_at=f"{day}T10:01:00Z")
        for task in ids
    ]  # fmt: skip


def insert_outside_the_loader(
    connection: psycopg.Connection, start_time: str, task: str = TASK_3, line: int = 2
) -> None:
    batch_id = connection.execute(
        "insert into raw.load_batches (table_name, source_file, file_format, file_checksum, "
        "file_bytes, status, started_at) values ('task_executions', 'x.csv', 'csv', 'x', 0, "
        "'loaded', now()) returning batch_id"
    ).fetchone()[0]
    connection.execute(
        "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
        "provider, start_time, status, updated_at, _batch_id, _source_file, _source_line) "
        "values (%s, 'T', gen_random_uuid(), gen_random_uuid(), 'bug_fix', 'openai_codex', "
        "%s, 'pending', %s, %s, 'x.csv', %s)",
        (task, start_time, start_time, batch_id, line),
    )


def migrate_before_partitioning(connection: psycopg.Connection, tmp_path: Path) -> None:
    """The raw schema as it was before migration 0005 (0001 to 0004)."""
    before = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, before)
    for later in ("0005_task_executions_by_month.sql", "0006_month_making_never_waits.sql"):
        (before / later).unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS_DIR", before)
        apply_migrations(connection)


def test_a_file_of_two_months_lands_in_the_two_month_partitions(connection, tmp_path):
    path = write_csv(
        tmp_path / "task_executions.csv",
        month_rows("2026-01-31", TASK_1) + month_rows("2026-02-01", TASK_2),
    )

    [result] = load_paths(connection, [path])

    assert result.rows_loaded == 2
    assert by_partition(connection) == [
        ("raw.task_executions_2026_01", 1),
        ("raw.task_executions_2026_02", 1),
    ]


def test_months_are_utc_months(connection, tmp_path):
    """00:30 on 1 February in Paris is 23:30 on 31 January in UTC: January's partition."""
    rows = month_rows("2026-02-01", TASK_1)
    rows[0]["start_time"] = "2026-02-01T00:30:00+01:00"
    load_paths(connection, [write_csv(tmp_path / "task_executions.csv", rows)])

    assert by_partition(connection) == [("raw.task_executions_2026_01", 1)]


def test_a_row_written_outside_the_loader_waits_in_the_default_partition(connection, tmp_path):
    insert_outside_the_loader(connection, "2025-12-24T08:00:00Z")
    assert by_partition(connection) == [("raw.task_executions_default", 1)]

    load_paths(connection, [write_csv(tmp_path / "task_executions.csv",
                                      month_rows("2026-01-05", TASK_1))])  # fmt: skip

    assert by_partition(connection) == [
        ("raw.task_executions_2025_12", 1),
        ("raw.task_executions_2026_01", 1),
    ]


def test_a_load_does_not_wait_for_a_default_partition_in_use(connection, tmp_path):
    """A build reading the raw table holds its default partition: the load goes on, its rows
    wait there, and the next load moves them."""
    with postgres.connect() as reader:
        reader.execute("select count(*) from raw.task_executions")  # the transaction stays open
        [first] = load_paths(connection, [write_csv(tmp_path / "task_executions__1.csv",
                                                    month_rows("2026-01-05", TASK_1))])  # fmt: skip
        assert first.status == "loaded"
        assert by_partition(connection) == [("raw.task_executions_default", 1)]

    load_paths(connection, [write_csv(tmp_path / "task_executions__2.csv",
                                      month_rows("2026-02-05", TASK_2))])  # fmt: skip

    assert by_partition(connection) == [
        ("raw.task_executions_2026_01", 1),
        ("raw.task_executions_2026_02", 1),
    ]


def test_the_migration_moves_existing_rows_into_their_months(database, tmp_path):
    with postgres.connect(autocommit=True) as connection:
        migrate_before_partitioning(connection, tmp_path)
        insert_outside_the_loader(connection, "2026-01-31T10:00:00Z", TASK_1, 2)
        insert_outside_the_loader(connection, "2026-01-01T00:00:00Z", TASK_2, 3)
        insert_outside_the_loader(connection, "2026-03-01T10:00:00Z", TASK_3, 4)
        lines = connection.execute(
            "select _batch_id, _source_line, id from raw.task_executions order by 2"
        ).fetchall()
        assert len(lines) == 3

        applied = apply_migrations(connection)

        assert [m.name for m in applied] == ["task_executions_by_month", "month_making_never_waits"]
        assert by_partition(connection) == [
            ("raw.task_executions_2026_01", 2),
            ("raw.task_executions_2026_03", 1),
        ]
        assert (
            connection.execute(
                "select _batch_id, _source_line, id from raw.task_executions order by 2"
            ).fetchall()
            == lines
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute(
                "insert into raw.task_executions select * from raw.task_executions limit 1"
            )


def test_rows_of_the_current_months_never_pass_through_the_default_partition(connection, tmp_path):
    """The retention window's months are made before a file's rows are written: rows written
    to the default partition and moved are written twice."""
    today = datetime.now(UTC).date().isoformat()
    load_paths(connection, [write_csv(tmp_path / "task_executions.csv",
                                      month_rows(today, TASK_1, TASK_2))])  # fmt: skip

    connection.execute("select pg_stat_force_next_flush()")
    connection.execute("select pg_stat_clear_snapshot()")
    inserted_into_default = connection.execute(
        "select n_tup_ins from pg_stat_user_tables "
        "where relid = 'raw.task_executions_default'::regclass"
    ).fetchone()[0]
    assert inserted_into_default == 0
    assert by_partition(connection) == [(f"raw.task_executions_{today[:4]}_{today[5:7]}", 2)]


def test_the_migration_replaces_views_of_the_old_table_and_says_so(database, tmp_path, caplog):
    """dbt's staging views read raw.task_executions: they go with the old table (a warning
    names them) and the next dbt build creates them again."""
    with postgres.connect(autocommit=True) as connection:
        migrate_before_partitioning(connection, tmp_path)
        connection.execute("create schema staging")
        connection.execute("create view staging.versions as select id from raw.task_executions")

        with caplog.at_level("WARNING", logger="warehouse.ingest.migrations"):
            assert len(apply_migrations(connection)) == 2

        assert connection.execute("select to_regclass('staging.versions')").fetchone() == (None,)
    assert [record.getMessage() for record in caplog.records] == [
        "0005_task_executions_by_month.sql: dropped views that read raw.task_executions (run dbt "
        "build to create them again): staging.versions"
    ]
