"""Retention on a small hand-built dataset: what expires, the archive and its manifest, the dry
run, restore, the rollups after a purge, and a run killed between archive and delete.

As of 2026-03-15 06:00 UTC. Cut-offs are the UTC midnight at or before as_of - retention_days:
  org A, retention_days 30: 2026-02-13 00:00. Org B, retention_days null: the setting
  WAREHOUSE_RETENTION_DAYS (60 here): 2026-01-14 00:00.

  T1 A1 openai_codex bug_fix 01-20 10:00, two versions (running, completed), two routing
     decisions (two versions of one)                              -> expires (A, 2026-01)
  T2 A1 openai_codex bug_fix 02-12 23:30, completed                 -> expires (A, 2026-02)
  T3 A1 openai_codex bug_fix 02-13 00:30, completed                 -> kept (after A's cut-off)
  T4 A2 github_copilot feature 03-10 09:00, completed               -> kept
  T5 B1 openai_codex bug_fix 01-13 12:00, completed, one decision   -> expires (B, 2026-01)
  T6 B1 openai_codex bug_fix 01-20 11:00, completed, one decision   -> kept (B keeps 60 days;
     same provider, task type and day as T1: a provider day half purged)
  T7 B1 github_copilot feature 03-01 08:00, completed               -> kept
Expiring: 3 tasks, 4 task rows (T1 x2, T2, T5), 3 decision rows (T1 x2, T5).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import psycopg
import pyarrow.parquet as pq
import pytest

from tests.test_marts import A1, A2, B1, ORG_A, ORG_B, execution, task, write
from warehouse import postgres, settings
from warehouse.faults import advisory_waiters, wait_for_backends_to_end, wait_until
from warehouse.ingest.loader import load_paths
from warehouse.privacy.retention import (
    DELETE_LOCK,
    MonthGroup,
    RetentionError,
    read_manifest,
    restore,
    run_retention,
    verify_file,
)

AS_OF = datetime(2026, 3, 15, 6, tzinfo=UTC)
BUILD_AS_OF = "2026-03-15T06:00:00+00:00"
EXPIRING = {task(1), task(2), task(5)}
ROLLUPS = ("organization_analytics", "user_analytics", "provider_performance_metrics")
DECISION = "20000000-0000-4000-8000-00000000000"


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A", "pricing_tier": "standard", "retention_days": "30"},
        {"id": ORG_B, "name": "Org B", "pricing_tier": "standard", "retention_days": ""},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": user, "organization_id": org, "role": "developer",
         "created_at": "2025-12-01T00:00:00Z"}
        for user, org in ((A1, ORG_A), (A2, ORG_A), (B1, ORG_B))
    ])  # fmt: skip
    write(landing / "provider_pricing.csv", [
        {"id": f"10000000-0000-4000-8000-00000000000{number}", "provider": provider,
         "cost_per_token": "0.00001", "cost_per_request": "0.001",
         "effective_from": "2025-12-01T00:00:00Z", "effective_until": ""}
        for number, provider in ((1, "github_copilot"), (2, "openai_codex"))
    ])  # fmt: skip
    codex, copilot = "openai_codex", "github_copilot"
    write(landing / "task_executions.csv", [
        execution(1, A1, ORG_A, codex, "bug_fix", "2026-01-20T10:00:00Z", "", 0, "running"),
        execution(1, A1, ORG_A, codex, "bug_fix", "2026-01-20T10:00:00Z",
                  "2026-01-20T10:01:00Z", 1000, "completed"),
        execution(2, A1, ORG_A, codex, "bug_fix", "2026-02-12T23:30:00Z",
                  "2026-02-12T23:31:00Z", 2000, "completed"),
        execution(3, A1, ORG_A, codex, "bug_fix", "2026-02-13T00:30:00Z",
                  "2026-02-13T00:31:00Z", 3000, "completed"),
        execution(4, A2, ORG_A, copilot, "feature", "2026-03-10T09:00:00Z",
                  "2026-03-10T09:01:00Z", 4000, "completed"),
        execution(5, B1, ORG_B, codex, "bug_fix", "2026-01-13T12:00:00Z",
                  "2026-01-13T12:01:00Z", 5000, "completed"),
        execution(6, B1, ORG_B, codex, "bug_fix", "2026-01-20T11:00:00Z",
                  "2026-01-20T11:01:00Z", 6000, "completed"),
        execution(7, B1, ORG_B, copilot, "feature", "2026-03-01T08:00:00Z",
                  "2026-03-01T08:01:00Z", 7000, "completed"),
    ])  # fmt: skip

    def decision(number: int, task_number: int, created_at: str, quality: str) -> dict:
        return {
            "id": f"{DECISION}{number}", "task_execution_id": task(task_number),
            "chosen_provider": "openai_codex", "decision_timestamp": created_at,
            "actual_quality_score": quality, "created_at": created_at,
        }  # fmt: skip

    write(landing / "routing_decisions.csv", [
        decision(1, 1, "2026-01-20T09:59:00Z", "70"),
        decision(1, 1, "2026-01-20T10:02:00Z", "80"),
        decision(5, 5, "2026-01-13T11:59:00Z", "90"),
        decision(6, 6, "2026-01-20T10:59:00Z", "60"),
    ])  # fmt: skip


@pytest.fixture
def loaded(connection, tmp_path, monkeypatch) -> psycopg.Connection:
    monkeypatch.setenv("WAREHOUSE_RETENTION_DAYS", "60")
    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", f"file://{tmp_path / 'archive'}")
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    return connection


def counts(connection: psycopg.Connection) -> tuple[int, int]:
    return connection.execute(
        "select (select count(*) from raw.task_executions), "
        "(select count(*) from raw.routing_decisions)"
    ).fetchone()


def raw_task_ids(connection: psycopg.Connection) -> set[str]:
    return {str(row[0]) for row in connection.execute("select id from raw.task_executions")}


def rollups(connection: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every rollup row, without the bookkeeping columns of the build that wrote it."""
    result = {}
    for table in ROLLUPS:
        rows = connection.execute(f"select * from analytics.{table}")
        names = [column.name for column in rows.description]
        kept = [i for i, name in enumerate(names) if name not in {"built_at", "created_at"}]
        result[table] = sorted(
            (tuple(str(row[i]) for i in kept) for row in rows.fetchall()), key=str
        )
    return result


GROUPS = [
    MonthGroup(ORG_A, "2026-01", tasks=1, task_rows=2, decision_rows=2),
    MonthGroup(ORG_A, "2026-02", tasks=1, task_rows=1, decision_rows=0),
    MonthGroup(ORG_B, "2026-01", tasks=1, task_rows=1, decision_rows=1),
]


def test_a_dry_run_counts_by_organization_and_month_and_changes_nothing(loaded):
    archive = settings.archive_dir()
    result = run_retention(loaded, as_of=AS_OF, dry_run=True)

    assert result.groups == GROUPS
    assert (result.task_rows, result.decision_rows) == (4, 3)
    assert result.run_id is None
    assert counts(loaded) == (8, 4)
    assert not archive.exists()
    assert loaded.execute("select count(*) from privacy.retention_runs").fetchone() == (0,)


def test_the_cli_dry_run_prints_counts_by_organization_and_month(loaded, capsys):
    from warehouse import cli

    # as of the real now every task of 2026 is older than 60 days: all 7 expire
    assert cli.main(["retention", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would archive and delete" in out
    assert f"{ORG_A}  2026-01      1          2              2" in out
    assert "total (5 months)" in out
    assert counts(loaded) == (8, 4)

    assert cli.main(["retention", "restore", "--org", ORG_A, "--month", "2026-01"]) == 1
    assert f"error: no archive of organization {ORG_A} for 2026-01" in capsys.readouterr().err
    assert cli.main(["retention", "restore", "--org", "A", "--month", "2026-01"]) == 1
    assert "--org must be an organization's UUID" in capsys.readouterr().err


def test_a_run_archives_verifies_then_deletes_and_restore_brings_a_month_back(loaded):
    archive = settings.archive_dir()
    t1_query = "select t::text from raw.task_executions as t where id = %s order by _source_line"
    t1_rows = loaded.execute(t1_query, (task(1),)).fetchall()
    result = run_retention(loaded, as_of=AS_OF)

    assert result.groups == GROUPS
    assert raw_task_ids(loaded) == {task(3), task(4), task(6), task(7)}
    assert counts(loaded) == (4, 1)  # T3, T4, T6, T7 and T6's decision
    run = result.run_id
    assert sorted(item.path for item in result.files) == [
        f"routing_decisions/organization_id={ORG_A}/month=2026-01/{run}.parquet",
        f"routing_decisions/organization_id={ORG_B}/month=2026-01/{run}.parquet",
        f"task_executions/organization_id={ORG_A}/month=2026-01/{run}.parquet",
        f"task_executions/organization_id={ORG_A}/month=2026-02/{run}.parquet",
        f"task_executions/organization_id={ORG_B}/month=2026-01/{run}.parquet",
    ]
    manifest = json.loads((archive / "manifests" / f"{run}.json").read_text())
    assert manifest["as_of"] == AS_OF.isoformat()
    assert {item["path"]: item["rows"] for item in manifest["files"]} == {
        item.path: rows for item, rows in zip(sorted(result.files, key=lambda f: f.path),
                                              [2, 1, 2, 1, 1], strict=True)
    }  # fmt: skip
    assert all(len(item["sha256"]) == 64 for item in manifest["files"])
    t1 = pq.read_table(
        archive / f"task_executions/organization_id={ORG_A}/month=2026-01/{run}.parquet"
    )
    assert t1.column("status").to_pylist() == ["running", "completed"]
    assert t1.column("start_time").to_pylist()[0] == datetime(2026, 1, 20, 10, tzinfo=UTC)
    assert loaded.execute(
        "select status, tasks, task_rows_archived, decision_rows_archived, task_rows_deleted, "
        "decision_rows_deleted from privacy.retention_runs"
    ).fetchall() == [("finished", 3, 4, 3, 4, 3)]

    # nothing is left to expire: a second run as of the same time archives nothing
    again = run_retention(loaded, as_of=AS_OF)
    assert (again.groups, again.run_id, again.files) == ([], None, [])

    # restore A's January: verified, then its 2 task rows and 2 decision rows are back
    restored = restore(loaded, ORG_A, "2026-01")
    assert (restored.files, restored.task_rows_restored, restored.decision_rows_restored) == (
        2, 2, 2,
    )  # fmt: skip
    assert raw_task_ids(loaded) == {task(1), task(3), task(4), task(6), task(7)}
    assert counts(loaded) == (6, 3)
    twice = restore(loaded, ORG_A, "2026-01")  # restoring twice adds nothing
    assert (twice.task_rows_read, twice.task_rows_restored, twice.decision_rows_restored) == (
        2, 0, 0,
    )  # fmt: skip
    assert counts(loaded) == (6, 3)
    assert loaded.execute(t1_query, (task(1),)).fetchall() == t1_rows  # every column as it was

    # a file that changed after it was archived is refused, and nothing is restored
    path = archive / f"task_executions/organization_id={ORG_B}/month=2026-01/{run}.parquet"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(RetentionError, match="SHA-256"):
        restore(loaded, ORG_B, "2026-01")
    assert counts(loaded) == (6, 3)
    with pytest.raises(RetentionError, match="no archive of organization"):
        restore(loaded, ORG_B, "2026-02")


def test_archived_months_older_than_the_archive_days_are_deleted(loaded):
    archive = settings.archive_dir()
    first = run_retention(loaded, as_of=AS_OF)
    # 40 days before as_of is 2026-02-03: January ended before it. A (30-day retention) keeps
    # its archive 40 days; B (60 days, longer) keeps its January until 2026-03-31.
    second = run_retention(loaded, as_of=AS_OF, archive_days=40)

    assert second.run_id is None
    assert second.expired_archives == [
        f"task_executions/organization_id={ORG_A}/month=2026-01",
        f"routing_decisions/organization_id={ORG_A}/month=2026-01",
    ]
    left = sorted(str(path.relative_to(archive)) for path in archive.rglob("*.parquet"))
    assert left == sorted(
        item.path
        for item in first.files
        if not item.path.endswith(f"{ORG_A}/month=2026-01/{first.run_id}.parquet")
    )
    assert not (archive / "task_executions" / f"organization_id={ORG_A}" / "month=2026-01").exists()


def test_the_archive_uri_is_a_path_or_a_file_uri(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", str(tmp_path / "cold"))
    assert settings.archive_dir() == tmp_path / "cold"
    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", f"file://{tmp_path}/cold%20store")
    assert settings.archive_dir() == tmp_path / "cold store"
    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", "s3://bucket/archive")
    with pytest.raises(ValueError, match="only a local path or a file:// URI"):
        settings.archive_dir()
    monkeypatch.delenv("WAREHOUSE_ARCHIVE_URI")
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    assert settings.archive_dir() == tmp_path / "home" / "archive"


def test_rollups_do_not_change_after_a_retention_run_nor_after_a_full_refresh(
    loaded, dbt, tmp_path
):
    dbt("build", as_of=BUILD_AS_OF)
    before = rollups(loaded)
    provider_day = loaded.execute(  # T1 (A) and T6 (B) share this provider day
        "select total_tasks, avg_quality_score from analytics.provider_performance_metrics "
        "where provider = 'openai_codex' and aggregation_period = 'daily' "
        "and metric_date = '2026-01-20'"
    ).fetchone()
    assert provider_day == (2, 70)  # quality (80 + 60) / 2

    result = run_retention(loaded, as_of=AS_OF)

    assert result.row_level_rows_deleted == 3 + 2 + 3 + 2  # staging and marts, tasks, decisions
    assert {str(row[0]) for row in loaded.execute("select id from analytics.task_executions")} == {
        task(3),
        task(4),
        task(6),
        task(7),
    }
    assert loaded.execute(
        "select count(*) from analytics.routing_decisions where task_execution_id = any(%s)",
        ([UUID(t) for t in EXPIRING],),
    ).fetchone() == (0,)
    assert loaded.execute(
        "select organization_id::text, provider, task_type, start_date "
        "from raw.retention_purged_days order by start_date"
    ).fetchall() == [
        (ORG_B, "openai_codex", "bug_fix", date(2026, 1, 13)),
        (ORG_A, "openai_codex", "bug_fix", date(2026, 1, 20)),
        (ORG_A, "openai_codex", "bug_fix", date(2026, 2, 12)),
    ]
    assert rollups(loaded) == before

    dbt("build", as_of=BUILD_AS_OF)
    assert rollups(loaded) == before
    dbt("build", "--full-refresh", as_of=BUILD_AS_OF)
    assert rollups(loaded) == before
    # a late version of T6 (kept: 9000 tokens instead of 6000) updates B's day 01-20, but not
    # the provider's day 01-20, which T1's purge froze (it cannot be computed without T1)
    late = tmp_path / "late"
    late.mkdir()
    t6 = execution(6, B1, ORG_B, "openai_codex", "bug_fix", "2026-01-20T11:00:00Z",
                   "2026-01-20T11:01:00Z", 9000, "completed")  # fmt: skip
    write(late / "task_executions__late.csv", [{**t6, "updated_at": "2026-03-14T00:00:00Z"}])
    load_paths(loaded, [late])
    dbt("build", as_of=BUILD_AS_OF)
    day_cost = (
        "select total_cost_usd from analytics.organization_analytics where organization_id = %s "
        "and aggregation_period = 'daily' and metric_date = '2026-01-20'"
    )
    assert loaded.execute(day_cost, (ORG_B,)).fetchone() == (Decimal("0.09"),)  # was 0.06
    assert loaded.execute(
        "select total_tasks, avg_quality_score, total_tokens "
        "from analytics.provider_performance_metrics "
        "where provider = 'openai_codex' and aggregation_period = 'daily' "
        "and metric_date = '2026-01-20'"
    ).fetchone() == (*provider_day, 7000)  # T1's 1000 + T6's 6000, as before the purge


RUN_IN_SUBPROCESS = f"""
from datetime import datetime
from warehouse import postgres
from warehouse.privacy.retention import run_retention
with postgres.connect(autocommit=True) as connection:
    run_retention(connection, as_of=datetime.fromisoformat({AS_OF.isoformat()!r}))
"""


def test_a_run_killed_between_archive_and_delete_loses_nothing_and_a_rerun_finishes(loaded):
    archive = settings.archive_dir()
    rows_before = counts(loaded)
    loaded.execute("select pg_advisory_lock(%s)", (DELETE_LOCK,))
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_IN_SUBPROCESS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: advisory_waiters(loaded, DELETE_LOCK) != [], "the run waits to delete")
        (backend,) = advisory_waiters(loaded, DELETE_LOCK)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    finally:
        loaded.execute("select pg_advisory_unlock(%s)", (DELETE_LOCK,))
    wait_for_backends_to_end(loaded, [backend])

    # killed after the archive was written and verified, before anything was deleted
    assert counts(loaded) == rows_before == (8, 4)
    ((dead_run, status),) = loaded.execute(
        "select run_id, status from privacy.retention_runs"
    ).fetchall()
    assert status == "archiving"
    assert len(read_manifest(archive, dead_run)) == 5
    assert len(list(archive.rglob(f"{dead_run}.parquet"))) == 5

    result = run_retention(loaded, as_of=AS_OF)

    assert result.abandoned_runs == [dead_run]
    assert raw_task_ids(loaded) == {task(3), task(4), task(6), task(7)}
    assert counts(loaded) == (4, 1)
    files = sorted(archive.rglob("*.parquet"))
    assert [path.stem for path in files] == [result.run_id] * 5  # the dead run's files are gone
    listed = read_manifest(archive, result.run_id)
    archived = {table: 0 for table in ("task_executions", "routing_decisions")}
    for item in listed.values():
        verify_file(archive, item)  # SHA-256 and rows read back
        archived[item.table] += item.rows
    removed = (rows_before[0] - counts(loaded)[0], rows_before[1] - counts(loaded)[1])
    assert (archived["task_executions"], archived["routing_decisions"]) == removed == (4, 3)
    assert loaded.execute(
        "select status, task_rows_archived, task_rows_deleted, decision_rows_archived, "
        "decision_rows_deleted from privacy.retention_runs order by started_at"
    ).fetchall() == [("abandoned", 4, 0, 3, 0), ("finished", 4, 4, 3, 3)]


def partitions(connection: psycopg.Connection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "select child.relname from pg_inherits "
            "join pg_class as child on child.oid = pg_inherits.inhrelid "
            "where inhparent = 'raw.task_executions'::regclass "
            "and child.relname != 'task_executions_default' order by 1"
        )
    ]


LATER = datetime(2026, 4, 20, 6, tzinfo=UTC)  # cut-offs: A 2026-03-21, B 2026-02-19


def test_a_month_partition_whose_rows_all_expired_is_dropped_rather_than_deleted(loaded):
    # As of 04-20 every task of January (T1, T5, T6) and February (T2, T3) expires; of March,
    # T4 (A, 03-10) does and T7 (B, 03-01) does not.
    assert partitions(loaded)[:3] == [
        "task_executions_2026_01", "task_executions_2026_02", "task_executions_2026_03",
    ]  # fmt: skip
    result = run_retention(loaded, as_of=LATER)

    assert result.dropped_partitions == ["task_executions_2026_01", "task_executions_2026_02"]
    assert "task_executions_2026_03" in partitions(loaded)
    assert raw_task_ids(loaded) == {task(7)}
    assert counts(loaded) == (1, 0)
    assert (result.task_rows, result.task_rows_deleted) == (7, 7)  # 4 dropped, 3 deleted
    assert (result.decision_rows, result.decision_rows_deleted) == (4, 4)


def test_a_month_in_use_is_deleted_row_by_row_instead(loaded):
    with postgres.connect() as reader:  # a transaction: it holds its lock until it ends
        reader.execute("select count(*) from raw.task_executions")
        result = run_retention(loaded, as_of=LATER)

    assert result.dropped_partitions == []
    assert partitions(loaded)[:2] == ["task_executions_2026_01", "task_executions_2026_02"]
    assert raw_task_ids(loaded) == {task(7)}
    assert (result.task_rows, result.task_rows_deleted) == (7, 7)
