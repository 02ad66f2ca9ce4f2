"""Export and deletion of a user's and an organization's data on the people's warehouse
(tests/people.py): what is exported, that nothing about the subject is left anywhere but the
organization-level aggregates, that requests are recorded and idempotent, and that an erased
subject does not come back with a later file or build."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from psycopg import sql

from tests.people import ORG_A, ORG_B, USERS, build, built_warehouse, task_id, user_id, write
from warehouse.api import keys
from warehouse.ingest.loader import load_paths
from warehouse.privacy.requests import (
    KEPT_AGGREGATES,
    ORGANIZATION_RECORDS,
    Subject,
    delete_subject,
    export_subject,
)
from warehouse.privacy.retention import archived_files, restore, run_retention, verify_file

# D1's rows: one user, one task and one decision in raw, staging and the marts; the day state of
# D1's rollup; the daily, weekly and monthly user_analytics rows.
D1_ROWS = {
    "raw.users": 1,
    "raw.task_executions": 1,
    "raw.routing_decisions": 1,
    "staging.stg_platform__users": 1,
    "staging.stg_platform__task_executions": 1,
    "staging.stg_platform__routing_decisions": 1,
    "staging.int_user_days": 1,
    "analytics.users": 1,
    "analytics.task_executions": 1,
    "analytics.routing_decisions": 1,
    "analytics.user_analytics": 3,
}
# Deleted, and D1's id replaced by a stand-in in the organization's day state (which counts
# distinct users over weeks and months).
D1_DELETED = D1_ROWS | {"staging.int_organization_days (ids replaced)": 1}
SCHEMAS = ("raw", "staging", "analytics", "monitoring", "support")


@pytest.fixture
def warehouse(server, people_template, tmp_path):
    with built_warehouse(server, tmp_path, people_template) as connection:
        yield connection


def mentions(connection, value: str) -> dict[str, int]:
    """Rows of every table and view of the warehouse's schemas whose text mentions ``value``."""
    relations = connection.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_schema = any(%s)
            and (table_schema, table_name) not in (
                select schemaname, tablename from pg_catalog.pg_tables
                where tablename ~ '^task_executions_(\\d{4}_\\d{2}|default)$'
            )
        """,
        (list(SCHEMAS),),
    ).fetchall()
    found = {}
    for schema, table in relations:
        query = sql.SQL("select count(*) from {} as row_ where strpos(row_::text, %s) > 0")
        (count,) = connection.execute(
            query.format(sql.Identifier(schema, table)), (value,)
        ).fetchone()
        if count:
            found[f"{schema}.{table}"] = count
    return found


def organization_aggregates(connection) -> list[tuple]:
    return connection.execute(
        "select organization_id, aggregation_period, metric_date, total_tasks, total_cost_usd, "
        "total_savings_usd, active_developers from analytics.organization_analytics "
        "order by 1, 2, 3"
    ).fetchall()


def test_a_user_is_exported_then_deleted_everywhere_once_and_for_good(warehouse, tmp_path):
    d1 = Subject("user", user_id("D1"))
    before = organization_aggregates(warehouse)

    exported = export_subject(warehouse, d1, tmp_path / "export", requested_by="dpo@example.com")
    assert exported.row_counts == D1_ROWS
    summary = json.loads((tmp_path / "export" / "summary.json").read_text())
    assert summary["tables"] == D1_ROWS
    assert summary["total_rows"] == 13
    task = json.loads((tmp_path / "export" / "analytics.task_executions.jsonl").read_text())
    assert (task["id"], task["user_id"], task["task_id"]) == (
        task_id("D1"),
        user_id("D1"),
        "task-D1",
    )
    assert sorted(path.name for path in (tmp_path / "export").iterdir()) == sorted(
        [f"{table}.jsonl" for table in D1_ROWS] + ["summary.json"]
    )

    dry = delete_subject(warehouse, d1, dry_run=True, requested_by="dpo@example.com")
    assert dry.row_counts == D1_DELETED
    assert mentions(warehouse, user_id("D1")) != {}  # a dry run changes nothing

    deleted = delete_subject(warehouse, d1, requested_by="dpo@example.com")
    assert deleted.row_counts == D1_DELETED
    assert mentions(warehouse, user_id("D1")) == {}
    assert mentions(warehouse, task_id("D1")) == {}
    assert organization_aggregates(warehouse) == before  # kept: they name nobody
    assert mentions(warehouse, user_id("D2"))["analytics.task_executions"] == 1  # others stay

    again = delete_subject(warehouse, d1, requested_by="dpo@example.com")
    assert again.row_counts == {}
    assert warehouse.execute(
        "select request_kind, dry_run, requested_by, row_counts = '{}'::jsonb, "
        "completed_at is not null from privacy.requests where subject_id = %s "
        "order by request_id",
        (user_id("D1"),),
    ).fetchall() == [
        ("export", False, "dpo@example.com", False, True),
        ("delete", True, "dpo@example.com", False, True),
        ("delete", False, "dpo@example.com", False, True),
        ("delete", False, "dpo@example.com", True, True),
    ]

    # The platform sends D1's task again (a replay), with D2's new one: D1's is dropped.
    replay = tmp_path / "replay"
    replay.mkdir()
    write(replay / "task_executions.csv", [
        {"id": task_id(name), "task_id": f"task-{name}", "user_id": user_id(name),
         "organization_id": ORG_A, "task_type": "bug_fix", "provider": "github_copilot",
         "start_time": "2026-03-01T12:00:00Z", "end_time": "2026-03-01T12:01:00Z",
         "tokens_used": 100, "status": "completed", "updated_at": "2026-03-01T12:01:00Z"}
        for name in ("D1", "D2")
    ])  # fmt: skip
    [result] = load_paths(warehouse, [replay])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_erased) == (
        2, 1, 0, 1,
    )  # fmt: skip
    assert warehouse.execute(
        "select rows_read, rows_loaded, rows_rejected, rows_erased from raw.load_batches "
        "where batch_id = %s",
        (result.batch_id,),
    ).fetchone() == (2, 1, 0, 1)
    build("build")
    assert mentions(warehouse, user_id("D1")) == {}


def test_an_export_leaves_out_the_digest_of_the_users_api_keys_and_a_deletion_removes_them(
    warehouse, tmp_path
):
    d1 = Subject("user", user_id("D1"))
    new = keys.create_key(warehouse, d1.id)
    exported = export_subject(warehouse, d1, tmp_path / "export")
    assert exported.row_counts == D1_ROWS | {"api.keys": 1}
    (row,) = [json.loads(line) for line in
              (tmp_path / "export" / "api.keys.jsonl").read_text().splitlines()]  # fmt: skip
    assert (row["key_id"], row["user_id"], row["prefix"]) == (new.key_id, str(d1.id),
                                                              new.token.split("_")[1])  # fmt: skip
    assert set(row) == {"key_id", "user_id", "prefix", "created_at", "expires_at", "revoked_at"}
    summary = json.loads((tmp_path / "export" / "summary.json").read_text())
    assert summary["withheld_columns"] == {"api.keys": ["key_hash"]}
    # the other tables keep every column, in the table's order
    task = json.loads((tmp_path / "export" / "analytics.task_executions.jsonl").read_text())
    columns = warehouse.execute(
        "select column_name from information_schema.columns where table_schema = 'analytics' "
        "and table_name = 'task_executions' order by ordinal_position"
    ).fetchall()
    assert list(task) == [name for (name,) in columns]

    deleted = delete_subject(warehouse, d1)
    assert deleted.row_counts["api.keys"] == 1
    assert warehouse.execute("select count(*) from api.keys").fetchone() == (0,)


def privacy_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "warehouse.cli", "privacy", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_an_organization_is_deleted_but_its_aggregates(warehouse, tmp_path):
    exported = privacy_command("export", "--user", user_id("E"), "--out", str(tmp_path / "e"))
    assert exported.returncode == 0, exported.stderr
    assert f"exported 13 rows about user {user_id('E')}" in exported.stdout
    dry = privacy_command("delete", "--org", ORG_B, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # 31: B's rows everywhere, among them its cost anomaly day and its forecast, which the
    # next build computes again from its kept aggregates
    assert f"would delete 31 rows about organization {ORG_B} (and their ids" in dry.stdout
    bad = privacy_command("delete", "--user", "not-a-uuid")
    assert bad.returncode == 2
    assert "--user must be a UUID, not 'not-a-uuid'" in bad.stderr

    a_before = mentions(warehouse, ORG_A)
    aggregates = organization_aggregates(warehouse)
    result = delete_subject(warehouse, Subject("organization", ORG_B), requested_by="admin")
    assert result.row_counts["raw.task_executions"] == 2
    assert result.row_counts["analytics.users"] == 2
    left = mentions(warehouse, ORG_B)
    kept = KEPT_AGGREGATES | ORGANIZATION_RECORDS
    assert set(left) <= {f"{schema}.{table}" for schema, table in kept} | {
        "analytics.organization_cost_dashboard",  # a view over organization_analytics
        "analytics.roi_summary",  # likewise
        "support.organization_daily",  # the pseudonym is of B's id; pricing tier by join
    }
    assert left["analytics.organization_analytics"] == 3
    for name, (org, *_) in USERS.items():
        if org == ORG_B:
            assert mentions(warehouse, user_id(name)) == {}, name
    assert organization_aggregates(warehouse) == aggregates
    assert mentions(warehouse, ORG_A) == a_before
    build("build")
    assert organization_aggregates(warehouse) == aggregates


def test_archived_rows_are_exported_deleted_and_never_restored(warehouse, tmp_path):
    """Retention archived every task (90 days after 2026-03-01); D1's archived task and decision
    are exported, then removed from the archive, whose manifests still verify; a restore from a
    copy of the archive taken before the deletion brings back everyone's rows but D1's."""
    archive = tmp_path / "archive"
    run_retention(warehouse, as_of=datetime(2026, 7, 1, tzinfo=UTC), archive=archive)
    before = tmp_path / "archive-before"
    shutil.copytree(archive, before)
    d1 = Subject("user", user_id("D1"))

    exported = export_subject(warehouse, d1, tmp_path / "export", archive=archive)
    assert exported.row_counts == {
        "raw.users": 1,
        "raw.retention_purged_days": 1,
        "staging.stg_platform__users": 1,
        "staging.int_user_days": 1,
        "analytics.users": 1,
        "analytics.user_analytics": 3,
        "archive/task_executions": 1,
        "archive/routing_decisions": 1,
    }
    [archived_task] = [
        json.loads(line)
        for line in (tmp_path / "export" / "archive.task_executions.jsonl").read_text().splitlines()
    ]
    assert (archived_task["id"], archived_task["task_id"]) == (task_id("D1"), "task-D1")

    deleted = delete_subject(warehouse, d1, archive=archive)
    assert deleted.row_counts == {
        "raw.users": 1,
        "raw.retention_purged_days (ids replaced)": 1,
        "staging.stg_platform__users": 1,
        "staging.int_user_days": 1,
        "staging.int_organization_days (ids replaced)": 1,
        "analytics.users": 1,
        "analytics.user_analytics": 3,
        "archive/task_executions": 1,
        "archive/routing_decisions": 1,
    }
    assert mentions(warehouse, user_id("D1")) == {}
    files = archived_files(archive)
    for item in files:
        verify_file(archive, item)
    assert sum(item.rows for item in files if item.table == "task_executions") == 7  # 8 - D1
    assert all(
        user_id("D1") not in pq.read_table(archive / item.path).to_pylist().__repr__()
        for item in files
    )

    restored = restore(warehouse, ORG_A, "2026-03", archive=before)
    assert restored.task_rows_restored == 5  # org A's six tasks but D1's
    assert mentions(warehouse, user_id("D1")) == {}
    assert mentions(warehouse, task_id("D2"))["raw.task_executions"] == 1
