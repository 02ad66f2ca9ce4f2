"""Retention (the specification's section 5.1; docs/privacy.md, "Retention").

A task expires when its start time (of its newest version) is before its organization's
cut-off: the UTC midnight at or before ``as_of - retention_days`` (``raw.organizations``, newest
version; ``WAREHOUSE_RETENTION_DAYS`` when null). Whole UTC days go, so a day of an organization
is either all kept or all purged. A run:

1. finds the expiring tasks and copies every raw version of them and of their routing decisions
   into temporary tables (what is archived is exactly what is deleted);
2. writes them to Parquet, one file per table, organization and month of start time, under
   ``<archive>/<table>/organization_id=<uuid>/month=<YYYY-MM>/<run-id>.parquet``, and a manifest
   ``<archive>/manifests/<run-id>.json`` with each file's rows and SHA-256;
3. verifies the manifest against the files on disk (rows read back, checksums);
4. in one transaction: deletes the archived raw rows and the row-level rows built from them
   (staging tables, task and decision marts, the quarantine and transition lists), records the
   purged days (the rollups' day state keeps them frozen) and marks the run finished;
5. deletes archived months older than ``WAREHOUSE_ARCHIVE_DAYS`` (or the organization's
   retention, when longer).

A crash before step 4 commits deletes nothing; the next run removes the dead run's files and
starts again. The aggregates (the three rollups and their day state) are never touched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from warehouse import settings
from warehouse.ingest.loader import file_checksum
from warehouse.privacy.erased import drop_erased_rows
from warehouse.progress import Progress

logger = logging.getLogger(__name__)

RUN_LOCK = 731_101  # one retention run or restore at a time (a session lock, never waited for)
DELETE_LOCK = 731_102  # taken just before deleting: a test holds it to stop a run there
MANIFESTS = "manifests"
# Raw tables archived, with the columns a row is known by (their unique indexes).
RAW_KEYS = {
    "task_executions": ("_batch_id", "_source_line", "start_time"),
    "routing_decisions": ("_batch_id", "_source_line"),
}
# Row-level tables built from raw rows (schema, table, task id column); the rollups and their
# day state are aggregates and never purged.
ROW_LEVEL_TABLES = (
    ("staging", "stg_platform__task_executions", "task_execution_id"),
    ("staging", "stg_platform__routing_decisions", "task_execution_id"),
    ("analytics", "task_executions", "id"),
    ("analytics", "routing_decisions", "task_execution_id"),
    ("monitoring", "quarantined_task_executions", "id"),
    ("monitoring", "invalid_status_transitions", "task_execution_id"),
)
ARROW_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}
# Exact as text: uuid, jsonb, numeric (unbounded precision) and text itself.

Echo = Callable[[str], None]


class RetentionError(RuntimeError):
    pass


@dataclass(frozen=True)
class MonthGroup:
    """The expiring tasks of one organization and UTC month of start time."""

    organization_id: str
    month: str
    tasks: int
    task_rows: int
    decision_rows: int


@dataclass(frozen=True)
class ArchiveFile:
    path: str  # relative to the archive root
    table: str
    organization_id: str
    month: str
    rows: int
    sha256: str
    bytes: int


@dataclass
class RunResult:
    as_of: datetime
    archive: Path
    dry_run: bool
    groups: list[MonthGroup]
    run_id: str | None = None
    files: list[ArchiveFile] = field(default_factory=list)
    task_rows_deleted: int = 0
    decision_rows_deleted: int = 0
    row_level_rows_deleted: int = 0
    dropped_partitions: list[str] = field(default_factory=list)
    expired_archives: list[str] = field(default_factory=list)
    abandoned_runs: list[str] = field(default_factory=list)

    @property
    def task_rows(self) -> int:
        return sum(group.task_rows for group in self.groups)

    @property
    def decision_rows(self) -> int:
        return sum(group.decision_rows for group in self.groups)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _run_lock(connection: psycopg.Connection) -> Iterator[None]:
    if not connection.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()[0]:
        raise RetentionError(
            "another retention run or restore is in progress on this database; "
            "wait for it to finish and run again"
        )
    try:
        yield
    finally:
        connection.execute("select pg_advisory_unlock(%s)", (RUN_LOCK,))


def month_end(month: str) -> date:
    """The first day after ``month`` (YYYY-MM)."""
    year, number = (int(part) for part in month.split("-"))
    return date(year + number // 12, number % 12 + 1, 1)


def _newest_organizations(connection: psycopg.Connection) -> dict[str, int | None]:
    rows = connection.execute(
        "select distinct on (id) id::text, retention_days from raw.organizations "
        "order by id, updated_at desc nulls last, _batch_id desc, _source_line desc"
    )
    return dict(rows.fetchall())


def _find_expiring(connection: psycopg.Connection, as_of: datetime, default_days: int) -> None:
    """Temporary tables: expiring_tasks (id, organization_id, month) and the raw rows to
    archive, archived_task_executions and archived_routing_decisions (every column, plus the
    archive_organization_id and archive_month they are filed under)."""
    connection.execute(
        "drop table if exists expiring_tasks, archived_task_executions, archived_routing_decisions"
    )
    connection.execute(
        """
        create temp table expiring_tasks as
        with cutoffs as (
            select
                organizations.id as organization_id,
                -- at least a day: a retention of 0 or less in raw is a mistake, not "purge all"
                date_trunc(
                    'day', (%(as_of)s::timestamptz at time zone 'UTC') - make_interval(
                        days => greatest(coalesce(organizations.retention_days, %(days)s), 1)
                    )
                ) at time zone 'UTC' as cutoff
            from (
                select distinct on (id) id, retention_days from raw.organizations
                order by id, updated_at desc nulls last, _batch_id desc, _source_line desc
            ) as organizations
        ),
        latest_cutoff as (
            select greatest(
                coalesce(max(cutoff), '-infinity'),
                date_trunc('day', (%(as_of)s::timestamptz at time zone 'UTC')
                    - make_interval(days => %(days)s)) at time zone 'UTC'
            ) as cutoff
            from cutoffs
        ),
        -- a task can expire only if one of its versions started before the latest cut-off
        -- (months after it are pruned); its newest version decides
        candidates as (
            select distinct tasks.id
            from raw.task_executions as tasks
            where tasks.start_time < (select cutoff from latest_cutoff)
        ),
        newest as (
            select distinct on (tasks.id) tasks.id, tasks.organization_id, tasks.start_time
            from raw.task_executions as tasks
            where tasks.id = any(array(select id from candidates))
            order by tasks.id, tasks.updated_at desc, tasks._batch_id desc,
                tasks._source_line desc
        )
        select
            newest.id,
            newest.organization_id,
            to_char(newest.start_time at time zone 'UTC', 'YYYY-MM') as month
        from newest
        left join cutoffs on newest.organization_id = cutoffs.organization_id
        where newest.start_time < coalesce(
            cutoffs.cutoff,
            date_trunc('day', (%(as_of)s::timestamptz at time zone 'UTC')
                - make_interval(days => %(days)s)) at time zone 'UTC'
        )
        """,
        {"as_of": as_of, "days": default_days},
    )
    connection.execute(
        """
        alter table expiring_tasks add primary key (id);
        analyze expiring_tasks;

        create temp table archived_task_executions as
        select
            expiring.organization_id as archive_organization_id,
            expiring.month as archive_month,
            tasks.*
        from raw.task_executions as tasks
        inner join expiring_tasks as expiring on tasks.id = expiring.id;

        create temp table archived_routing_decisions as
        select
            expiring.organization_id as archive_organization_id,
            expiring.month as archive_month,
            decisions.*
        from raw.routing_decisions as decisions
        inner join expiring_tasks as expiring on decisions.task_execution_id = expiring.id;

        create index on archived_task_executions (archive_organization_id, archive_month);
        create index on archived_routing_decisions (archive_organization_id, archive_month);
        """
    )


def _month_groups(connection: psycopg.Connection) -> list[MonthGroup]:
    rows = connection.execute(
        """
        with tasks as (
            select organization_id::text, month, count(*) as tasks
            from expiring_tasks group by 1, 2
        ),
        task_rows as (
            select archive_organization_id::text as organization_id, archive_month as month,
                count(*) as task_rows
            from archived_task_executions group by 1, 2
        ),
        decision_rows as (
            select archive_organization_id::text as organization_id, archive_month as month,
                count(*) as decision_rows
            from archived_routing_decisions group by 1, 2
        )
        select tasks.organization_id, tasks.month, tasks.tasks,
            coalesce(task_rows.task_rows, 0), coalesce(decision_rows.decision_rows, 0)
        from tasks
        left join task_rows using (organization_id, month)
        left join decision_rows using (organization_id, month)
        order by 1, 2
        """
    )
    return [MonthGroup(*row) for row in rows]


def _raw_columns(connection: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return connection.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = %s order by ordinal_position",
        (table,),
    ).fetchall()


def _relative_path(table: str, organization_id: str, month: str, run_id: str) -> str:
    return f"{table}/organization_id={organization_id}/month={month}/{run_id}.parquet"


def _write_file(
    connection: psycopg.Connection,
    archive: Path,
    table: str,
    group: MonthGroup,
    run_id: str,
) -> ArchiveFile:
    """One Parquet file of the archived rows of ``table`` for the group, written under a
    temporary name and renamed into place (a file at its final name is complete)."""
    columns = _raw_columns(connection, table)
    selected = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(name))
        if data_type not in ARROW_TYPES
        else sql.Identifier(name)
        for name, data_type in columns
    )
    query = sql.SQL(
        "select {} from {} where archive_organization_id = %s and archive_month = %s order by {}"
    ).format(
        selected,
        sql.Identifier(f"archived_{table}"),
        sql.SQL(", ").join(map(sql.Identifier, RAW_KEYS[table])),
    )
    rows = connection.execute(query, (group.organization_id, group.month)).fetchall()
    schema = pa.schema(
        [(name, ARROW_TYPES.get(data_type, pa.string())) for name, data_type in columns]
    )
    arrays = [
        pa.array([row[index] for row in rows], type=schema.field(index).type)
        for index in range(len(columns))
    ]
    relative = _relative_path(table, group.organization_id, group.month, run_id)
    target = archive / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(pa.Table.from_arrays(arrays, schema=schema), target)
    return ArchiveFile(
        path=relative,
        table=table,
        organization_id=group.organization_id,
        month=group.month,
        rows=len(rows),
        sha256=file_checksum(target),
        bytes=target.stat().st_size,
    )


def _manifest_path(archive: Path, run_id: str) -> Path:
    return archive / MANIFESTS / f"{run_id}.json"


def _write_manifest(archive: Path, run_id: str, as_of: datetime, files: list[ArchiveFile]) -> Path:
    path = _manifest_path(archive, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "written_at": datetime.now(UTC).isoformat(),
        "files": [asdict(item) for item in files],
    }
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def archived_files(archive: Path) -> list[ArchiveFile]:
    """Every file of every finished run's manifest."""
    return [
        item
        for manifest in sorted((archive / MANIFESTS).glob("*.json"))
        for item in read_manifest(archive, manifest.stem).values()
    ]


def update_manifest(archive: Path, run_id: str, changed: dict[str, ArchiveFile | None]) -> None:
    """Replace the entries of rewritten files of a run's manifest (None: the file was removed);
    written under a temporary name and renamed into place, like the manifest itself."""
    path = _manifest_path(archive, run_id)
    document = json.loads(path.read_text(encoding="utf-8"))
    files = []
    for entry in document["files"]:
        if entry["path"] not in changed:
            files.append(entry)
        elif changed[entry["path"]] is not None:
            files.append(asdict(changed[entry["path"]]))
    document["files"] = files
    document["rewritten_at"] = datetime.now(UTC).isoformat()
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def write_parquet(table: pa.Table, target: Path) -> None:
    """Write under a temporary name, flush to disk, rename into place: a file at its final
    name is complete."""
    partial = target.with_name(f".{target.name}.partial")
    pq.write_table(table, partial)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)


def read_manifest(archive: Path, run_id: str) -> dict[str, ArchiveFile]:
    """The files a run's manifest lists, by relative path."""
    path = _manifest_path(archive, run_id)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RetentionError(
            f"{path}: cannot read the manifest of run {run_id}: {error}"
        ) from error
    return {item["path"]: ArchiveFile(**item) for item in document["files"]}


def verify_file(archive: Path, expected: ArchiveFile) -> None:
    """Raise unless the file on disk has the manifest's checksum and row count."""
    path = archive / expected.path
    if not path.is_file():
        raise RetentionError(f"{path}: listed in the manifest but missing")
    checksum = file_checksum(path)
    if checksum != expected.sha256:
        raise RetentionError(
            f"{path}: SHA-256 {checksum} differs from the manifest's {expected.sha256}; "
            "the file changed after it was archived"
        )
    rows = pq.read_table(path).num_rows
    if rows != expected.rows:
        raise RetentionError(f"{path}: {rows} rows read back, the manifest says {expected.rows}")


def _verify_run(archive: Path, run_id: str, files: list[ArchiveFile]) -> None:
    """The manifest on disk lists exactly the files written, and each file matches it."""
    listed = read_manifest(archive, run_id)
    if set(listed) != {item.path for item in files}:
        raise RetentionError(f"the manifest of run {run_id} does not list the files written")
    for item in files:
        if listed[item.path] != item:
            raise RetentionError(f"{item.path}: the manifest's entry differs from the file written")
        verify_file(archive, listed[item.path])


def _abandon_unfinished_runs(
    connection: psycopg.Connection, archive: Path, echo: Echo
) -> list[str]:
    """Runs that died before their delete committed deleted nothing: their archive files
    are removed (the rows are still in raw and this run archives them again)."""
    abandoned = []
    rows = connection.execute(
        "select run_id from privacy.retention_runs where status = 'archiving' order by run_id"
    ).fetchall()
    for (run_id,) in rows:
        for table in RAW_KEYS:
            for path in (archive / table).glob(f"organization_id=*/month=*/{run_id}.parquet"):
                path.unlink()
                _remove_empty_parents(path.parent, archive)
        _manifest_path(archive, run_id).unlink(missing_ok=True)
        connection.execute(
            "update privacy.retention_runs set status = 'abandoned', finished_at = "
            "clock_timestamp() where run_id = %s",
            (run_id,),
        )
        echo(f"run {run_id} died before deleting anything: its archive files were removed")
        abandoned.append(run_id)
    return abandoned


def _remove_empty_parents(directory: Path, archive: Path) -> None:
    while directory != archive and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def _existing_tables(connection: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [
        (schema, table, column)
        for schema, table, column in ROW_LEVEL_TABLES
        if connection.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0]
    ]


def _keys_match(table: str) -> sql.Composable:
    """``raw_rows`` and ``archived`` are the same raw row of ``table``."""
    return sql.SQL(" and ").join(
        sql.SQL("raw_rows.{0} = archived.{0}").format(sql.Identifier(column))
        for column in RAW_KEYS[table]
    )


def _drop_whole_months(connection: psycopg.Connection) -> tuple[list[str], int]:
    """Month partitions of raw.task_executions all of whose rows are archived: detached and
    dropped rather than deleted row by row (0.10 s against 1.1 s for a month at 1 M tasks,
    docs/scaling.md). Only when nobody uses the table at that moment (the lock is taken without
    waiting, held to the end of the transaction); otherwise the rows are deleted one by one.
    Returns the partitions dropped and their rows."""
    months = connection.execute(
        "select 'task_executions_' || to_char(start_time at time zone 'UTC', 'YYYY_MM') "
        "from archived_task_executions group by 1 order by 1"
    ).fetchall()
    candidates = [
        name
        for (name,) in months
        if connection.execute("select to_regclass(%s)", (f"raw.{name}",)).fetchone()[0]
    ]
    if not candidates:
        return [], 0
    try:
        with connection.transaction():  # a savepoint: its lock stays when it is released
            connection.execute("lock table raw.task_executions in access exclusive mode nowait")
    except psycopg.errors.LockNotAvailable:
        logger.info("raw.task_executions is in use: expired rows are deleted one by one")
        return [], 0
    dropped, rows = [], 0
    for name in candidates:
        partition = sql.Identifier("raw", name)
        remaining = connection.execute(
            sql.SQL(
                "select count(*) filter (where not exists (select 1 from archived_task_executions "
                "as archived where {})), count(*) from {} as raw_rows"
            ).format(_keys_match("task_executions"), partition)
        ).fetchone()
        if remaining[0] == 0:
            connection.execute(
                sql.SQL("alter table raw.task_executions detach partition {}").format(partition)
            )
            connection.execute(sql.SQL("drop table {}").format(partition))
            dropped.append(name)
            rows += remaining[1]
    return dropped, rows


def _delete(connection: psycopg.Connection, result: RunResult) -> None:
    """Delete what was archived, in one transaction that also marks the run finished."""
    with connection.transaction():
        connection.execute("select pg_advisory_xact_lock(%s)", (DELETE_LOCK,))
        if connection.execute("select to_regclass('analytics.task_executions')").fetchone()[0]:
            connection.execute(
                """
                insert into raw.retention_purged_days
                    (organization_id, user_id, provider, task_type, start_date, run_id)
                select distinct tasks.organization_id, tasks.user_id, tasks.provider,
                    tasks.task_type, tasks.start_date, %s
                from analytics.task_executions as tasks
                where tasks.id in (select id from expiring_tasks)
                on conflict do nothing
                """,
                (result.run_id,),
            )
        result.dropped_partitions, dropped_rows = _drop_whole_months(connection)
        deleted = {"task_executions": dropped_rows}
        for table in RAW_KEYS:
            cursor = connection.execute(
                sql.SQL("delete from {} as raw_rows using {} as archived where {}").format(
                    sql.Identifier("raw", table),
                    sql.Identifier(f"archived_{table}"),
                    _keys_match(table),
                )
            )
            deleted[table] = deleted.get(table, 0) + cursor.rowcount
        if (deleted["task_executions"], deleted["routing_decisions"]) != (
            result.task_rows,
            result.decision_rows,
        ):
            raise RetentionError(
                f"archived {result.task_rows} task and {result.decision_rows} decision rows but "
                f"would delete {deleted['task_executions']} and {deleted['routing_decisions']}; "
                "nothing was deleted (were raw rows deleted meanwhile?): run again"
            )
        row_level = 0
        for schema, table, column in _existing_tables(connection):
            cursor = connection.execute(
                sql.SQL("delete from {} where {} in (select id from expiring_tasks)").format(
                    sql.Identifier(schema, table), sql.Identifier(column)
                )
            )
            row_level += cursor.rowcount
        result.task_rows_deleted = deleted["task_executions"]
        result.decision_rows_deleted = deleted["routing_decisions"]
        result.row_level_rows_deleted = row_level
        connection.execute(
            """
            update privacy.retention_runs
            set status = 'finished', finished_at = clock_timestamp(),
                task_rows_deleted = %s, decision_rows_deleted = %s, row_level_rows_deleted = %s
            where run_id = %s
            """,
            (
                result.task_rows_deleted,
                result.decision_rows_deleted,
                result.row_level_rows_deleted,
                result.run_id,
            ),
        )


def expired_archive_months(
    archive: Path,
    as_of: datetime,
    organizations: dict[str, int | None],
    archive_days: int,
    default_days: int,
) -> list[Path]:
    """Month directories (any table) whose month ended more than ``archive_days`` before
    ``as_of`` (or the organization's retention, when longer)."""
    expired = []
    for table in RAW_KEYS:
        for directory in sorted((archive / table).glob("organization_id=*/month=*")):
            organization_id = directory.parent.name.removeprefix("organization_id=")
            month = directory.name.removeprefix("month=")
            keep_days = max(archive_days, organizations.get(organization_id) or default_days)
            if month_end(month) <= (as_of - timedelta(days=keep_days)).date():
                expired.append(directory)
    return expired


def run_retention(
    connection: psycopg.Connection,
    *,
    as_of: datetime | None = None,
    dry_run: bool = False,
    archive: Path | None = None,
    default_days: int | None = None,
    archive_days: int | None = None,
    echo: Echo = _stderr,
) -> RunResult:
    """One retention run (module docstring) on an autocommit connection."""
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    archive = archive or settings.archive_dir()
    default_days = default_days or settings.retention_days()
    archive_days = archive_days or settings.archive_days()
    with _run_lock(connection):
        try:
            return _run(connection, as_of, dry_run, archive, default_days, archive_days, echo)
        finally:
            connection.execute(
                "drop table if exists expiring_tasks, archived_task_executions, "
                "archived_routing_decisions"
            )


def _run(
    connection: psycopg.Connection,
    as_of: datetime,
    dry_run: bool,
    archive: Path,
    default_days: int,
    archive_days: int,
    echo: Echo,
) -> RunResult:
    echo(f"finding tasks that expired as of {as_of.isoformat()}")
    _find_expiring(connection, as_of, default_days)
    result = RunResult(
        as_of=as_of, archive=archive, dry_run=dry_run, groups=_month_groups(connection)
    )
    organizations = _newest_organizations(connection)
    expired = expired_archive_months(archive, as_of, organizations, archive_days, default_days)
    result.expired_archives = [str(path.relative_to(archive)) for path in expired]
    if dry_run:
        return result
    result.abandoned_runs = _abandon_unfinished_runs(connection, archive, echo)
    if result.groups:
        result.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        connection.execute(
            """
            insert into privacy.retention_runs (run_id, as_of, status, archive_uri, tasks,
                task_rows_archived, decision_rows_archived)
            values (%s, %s, 'archiving', %s, %s, %s, %s)
            """,
            (
                result.run_id,
                as_of,
                str(archive),
                sum(group.tasks for group in result.groups),
                result.task_rows,
                result.decision_rows,
            ),
        )
        _archive(connection, result, echo)
        echo(f"verifying {len(result.files)} archive files against their manifest")
        _verify_run(archive, result.run_id, result.files)
        echo("deleting the archived raw rows and the row-level rows built from them")
        _delete(connection, result)
    for directory in expired:
        shutil.rmtree(directory)
        _remove_empty_parents(directory.parent, archive)
        echo(f"deleted expired archive {directory.relative_to(archive)}")
    if result.run_id and expired:
        connection.execute(
            "update privacy.retention_runs set archive_files_expired = %s where run_id = %s",
            (len(expired), result.run_id),
        )
    return result


def _archive(connection: psycopg.Connection, result: RunResult, echo: Echo) -> None:
    assert result.run_id is not None
    with Progress(len(result.groups), unit="month", description="archiving") as progress:
        for number, group in enumerate(result.groups, start=1):
            progress.starting(f"{group.organization_id} {group.month}")
            for table in RAW_KEYS:
                rows = group.task_rows if table == "task_executions" else group.decision_rows
                if rows:
                    result.files.append(
                        _write_file(connection, result.archive, table, group, result.run_id)
                    )
            progress.finished_step(
                f"[{number}/{len(result.groups)}] organization {group.organization_id} "
                f"{group.month}: {group.task_rows:,} task rows, "
                f"{group.decision_rows:,} decision rows archived"
            )
    manifest = _write_manifest(result.archive, result.run_id, result.as_of, result.files)
    connection.execute(
        "update privacy.retention_runs set manifest_path = %s where run_id = %s",
        (str(manifest), result.run_id),
    )
    echo(f"wrote {len(result.files)} archive files and the manifest {manifest}")


@dataclass(frozen=True)
class RestoreResult:
    files: int
    task_rows_read: int
    task_rows_restored: int
    decision_rows_read: int
    decision_rows_restored: int


def restore(
    connection: psycopg.Connection,
    organization_id: str,
    month: str,
    *,
    archive: Path | None = None,
    echo: Echo = _stderr,
) -> RestoreResult:
    """Bring an organization's archived month back into raw. Every file is verified against
    its run's manifest first; rows already in raw are skipped (restoring twice adds nothing)."""
    archive = archive or settings.archive_dir()
    try:
        organization_id = str(uuid.UUID(organization_id))
        month_end(month)
        datetime.strptime(month, "%Y-%m")
    except ValueError as error:
        raise RetentionError(
            f"--org must be an organization's UUID and --month YYYY-MM ({error})"
        ) from error
    files: dict[str, list[tuple[Path, ArchiveFile]]] = {table: [] for table in RAW_KEYS}
    for table in RAW_KEYS:
        directory = archive / table / f"organization_id={organization_id}" / f"month={month}"
        for path in sorted(directory.glob("*.parquet")):
            listed = read_manifest(archive, path.stem).get(str(path.relative_to(archive)))
            if listed is None:
                raise RetentionError(f"{path}: not listed in the manifest of run {path.stem}")
            files[table].append((path, listed))
    if not files["task_executions"]:
        raise RetentionError(
            f"no archive of organization {organization_id} for {month} under {archive} "
            "(never archived, or older than WAREHOUSE_ARCHIVE_DAYS); "
            "`warehouse retention run --dry-run` lists what is archived next"
        )
    for table_files in files.values():
        for _, listed in table_files:
            verify_file(archive, listed)
    echo(f"verified {sum(map(len, files.values()))} archive files of {organization_id} {month}")
    read: dict[str, int] = {}
    restored: dict[str, int] = {}
    with _run_lock(connection), connection.transaction():
        for table, table_files in files.items():
            read[table], restored[table] = _restore_table(connection, table, table_files)
        result = RestoreResult(
            files=sum(map(len, files.values())),
            task_rows_read=read["task_executions"],
            task_rows_restored=restored["task_executions"],
            decision_rows_read=read["routing_decisions"],
            decision_rows_restored=restored["routing_decisions"],
        )
        connection.execute(
            """
            insert into privacy.retention_restores (organization_id, month, files,
                task_rows_read, task_rows_restored, decision_rows_read, decision_rows_restored)
            values (%s, %s, %s, %s, %s, %s, %s)
            """,
            (organization_id, month, *asdict(result).values()),
        )
    return result


def _restore_table(
    connection: psycopg.Connection, table: str, table_files: list[tuple[Path, ArchiveFile]]
) -> tuple[int, int]:
    """Insert the files' rows into raw ``table``, skipping rows it holds; (read, inserted)."""
    if not table_files:
        return 0, 0
    staging = f"restore_{table}"
    connection.execute(
        sql.SQL("drop table if exists {0}; create temp table {0} (like {1}) on commit drop").format(
            sql.Identifier(staging), sql.Identifier("raw", table)
        )
    )
    columns = [name for name, _ in _raw_columns(connection, table)]
    read = 0
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(staging), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    for path, _ in table_files:
        rows = pq.read_table(path, columns=columns).to_pylist()
        with connection.cursor().copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
        read += len(rows)
    if table == "task_executions":
        # a subject deleted since (warehouse privacy delete) stays deleted: read, not restored
        drop_erased_rows(connection, table, sql.Identifier(staging), None)
        connection.execute(
            sql.SQL(
                "select raw.ensure_task_execution_months(min(start_time), max(start_time)) from {}"
            ).format(sql.Identifier(staging))
        )
    key = sql.SQL(", ").join(map(sql.Identifier, RAW_KEYS[table]))
    cursor = connection.execute(
        sql.SQL("insert into {} select * from {} on conflict ({}) do nothing").format(
            sql.Identifier("raw", table), sql.Identifier(staging), key
        )
    )
    return read, cursor.rowcount
