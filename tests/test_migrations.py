"""The raw schema is created by versioned migrations that match the landing contract."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from warehouse.ingest import migrations
from warehouse.ingest.contract import LINEAGE_COLUMNS, TABLES
from warehouse.ingest.migrations import MigrationError, apply_migrations


def test_raw_tables_have_exactly_the_contract_columns(connection):
    for table in TABLES.values():
        columns = [
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = %s order by ordinal_position",
                (table.name,),
            )
        ]
        assert columns == [*table.column_names, *LINEAGE_COLUMNS], table.name


def test_required_contract_columns_are_not_null_in_raw(connection):
    nullable = {
        (row[0], row[1]): row[2] == "YES"
        for row in connection.execute(
            "select table_name, column_name, is_nullable from information_schema.columns "
            "where table_schema = 'raw'"
        )
    }
    for table in TABLES.values():
        for column in table.columns:
            assert nullable[(table.name, column.name)] is not column.required, (
                f"{table.name}.{column.name}"
            )


def test_a_raw_event_line_is_stored_once_per_batch(connection):
    """(batch, line) is the key of every raw version: the index refuses a second row. (The
    index of the task table also holds its partition key, start_time: a line has one.)"""
    batch_id = connection.execute(
        "insert into raw.load_batches (table_name, source_file, file_format, file_checksum, "
        "file_bytes, status, started_at) values ('task_executions', 'x.csv', 'csv', 'x', 0, "
        "'loaded', now()) returning batch_id"
    ).fetchone()[0]
    row = (
        "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
        "provider, start_time, status, updated_at, _batch_id, _source_file, _source_line) "
        "values (gen_random_uuid(), 'T', gen_random_uuid(), gen_random_uuid(), 'bug_fix', "
        "'openai_codex', '2026-03-01T10:00:00Z', 'pending', now(), %s, 'x.csv', 2)"
    )
    connection.execute(row, (batch_id,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        connection.execute(row, (batch_id,))


def test_applying_twice_changes_nothing(connection):
    assert apply_migrations(connection) == []
    versions = connection.execute(
        "select version from raw.schema_migrations order by version"
    ).fetchall()
    # 0001_landing_tables, 0002_batch_horizon, 0003_batch_line_and_load_time_indexes,
    # 0004_no_row_foreign_key_on_raw_events, 0005_task_executions_by_month,
    # 0006_month_making_never_waits, 0007_access_control, 0008_redaction_counts,
    # 0009_retention, 0010_privacy_requests, 0011_database_health, 0012_budgets_and_invoices,
    # 0013_live_store
    assert versions == [(number,) for number in range(1, 14)]


def test_an_edited_applied_migration_is_refused(connection, tmp_path, monkeypatch):
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)

    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(connection)
