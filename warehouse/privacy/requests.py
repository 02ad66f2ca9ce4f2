"""Export and deletion of a subject's data: one user, or one organization (docs/privacy.md,
"Export and deletion").

The tables are found, not listed: every table of ``raw``, ``staging``, ``analytics`` and
``monitoring`` holds a subject's rows by one of a few columns (``user_id``; ``id`` of a users
or organizations table; ``organization_id``; ``task_execution_id`` of one of the subject's
tasks; the original text of a rejected row), so a model added later is covered without a change
here. Organization-level aggregates (``KEPT_AGGREGATES``) and the organization's own record
(``ORGANIZATION_RECORDS``) hold no personal data and are kept.

Every request is recorded in ``privacy.requests``; a deleted subject is recorded in
``privacy.erased_subjects``, and the loader drops their rows from later files.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import sql

from warehouse import settings
from warehouse.ingest.loader import file_checksum
from warehouse.privacy.retention import (
    ArchiveFile,
    archived_files,
    update_manifest,
    write_parquet,
)

# "api": the reporting API's keys and request log (warehouse/api/keys.py), by user.
SCHEMAS = ("raw", "staging", "analytics", "monitoring", "api")
ARCHIVE = "archive"  # the row counts' prefix of the retention archive's files
# Columns an export leaves out, as credentials, not data about the person: an API key's digest
# (the key's other columns, its prefix, dates and revocation, are exported). The summary lists
# them.
WITHHELD_COLUMNS = {("api", "keys"): ("key_hash",)}
# Per organization and period, without anyone in them: kept when an organization or a user is
# deleted (and never rebuilt from raw: the rollups are not fully refreshed).
KEPT_AGGREGATES = frozenset(
    {
        ("analytics", "organization_analytics"),
        ("staging", "int_organization_days"),
        ("monitoring", "reconciliation_daily"),
    }
)
# The organization's own record (name, tier, retention: nobody's personal data), kept with its
# aggregates, which dashboards and the rollups' tests join to it.
ORGANIZATION_RECORDS = frozenset(
    {
        ("raw", "organizations"),
        ("staging", "stg_platform__organizations"),
        ("analytics", "organizations"),
    }
)
# Bookkeeping that names users only to freeze aggregates (the days retention purged, by user):
# an erased user's id is replaced by a stand-in there, as in the day state's id lists.
STAND_IN_TABLES = frozenset({("raw", "retention_purged_days")})
# Where a subject's tasks are found (the tables that exist are read).
TASK_TABLES = (
    ("raw", "task_executions"),
    ("analytics", "task_executions"),
    ("monitoring", "quarantined_task_executions"),
)
SUBJECT_KINDS = ("user", "organization")
REPLACED = " (ids replaced)"


class PrivacyRequestError(ValueError):
    pass


@dataclass(frozen=True)
class Subject:
    kind: str  # user | organization
    id: UUID

    @classmethod
    def parse(cls, kind: str, value: str) -> Subject:
        if kind not in SUBJECT_KINDS:
            raise PrivacyRequestError(f"subject kind must be user or organization, not {kind!r}")
        try:
            return cls(kind, UUID(value))
        except ValueError:
            raise PrivacyRequestError(
                f"--{'org' if kind == 'organization' else 'user'} must be a UUID, not {value!r}"
            ) from None

    def describe(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: frozenset[str]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


@dataclass
class RequestResult:
    request_id: int
    subject: Subject
    request_kind: str
    dry_run: bool
    row_counts: dict[str, int] = field(default_factory=dict)
    destination: Path | None = None

    @property
    def total_rows(self) -> int:
        """Rows exported or deleted (not those whose ids were replaced)."""
        return sum(
            count for table, count in self.row_counts.items() if not table.endswith(REPLACED)
        )

    @property
    def replaced_rows(self) -> int:
        return sum(count for table, count in self.row_counts.items() if table.endswith(REPLACED))


def tables(connection: psycopg.Connection) -> list[Table]:
    """Every table of the warehouse's schemas (partitions are read through their parent)."""
    rows = connection.execute(
        """
        select namespace.nspname, class.relname, array_agg(attribute.attname::text)
        from pg_catalog.pg_class as class
        inner join pg_catalog.pg_namespace as namespace on class.relnamespace = namespace.oid
        inner join pg_catalog.pg_attribute as attribute
            on attribute.attrelid = class.oid and attribute.attnum > 0
            and not attribute.attisdropped
        where namespace.nspname = any(%s) and class.relkind in ('r', 'p')
            and not class.relispartition
        group by namespace.nspname, class.relname
        order by namespace.nspname, class.relname
        """,
        (list(SCHEMAS),),
    ).fetchall()
    return [Table(schema, name, frozenset(columns)) for schema, name, columns in rows]


@dataclass(frozen=True)
class _Scope:
    """The ids a subject's rows are found by."""

    subject: Subject
    user_ids: list[UUID]
    task_ids: list[UUID]
    organization_ids: list[UUID]  # where the archive holds their rows (empty: look everywhere)


def _scope(connection: psycopg.Connection, subject: Subject, found: list[Table]) -> _Scope:
    existing = {(table.schema, table.name): table for table in found}
    if subject.kind == "user":
        user_ids = [subject.id]
    else:
        user_ids = _ids(
            connection,
            [table for table in found if table.name in ("users", "stg_platform__users")],
            lambda table: sql.SQL("select {} from {} where organization_id = %(id)s").format(
                sql.Identifier("id" if "id" in table.columns else "user_id"), table.identifier
            ),
            subject,
        )
    task_tables = [existing[key] for key in TASK_TABLES if key in existing]
    task_ids = _ids(
        connection,
        task_tables,
        lambda table: sql.SQL(
            "select id from {} where user_id = any(%(users)s) or organization_id = %(org)s"
        ).format(table.identifier),
        subject,
        users=user_ids,
    )
    if subject.kind == "organization":
        organization_ids = [subject.id]
    else:
        organization_ids = _ids(
            connection,
            [table for table in found if table.name in ("users", "stg_platform__users")],
            lambda table: sql.SQL("select organization_id from {} where {} = %(id)s").format(
                table.identifier, sql.Identifier("id" if "id" in table.columns else "user_id")
            ),
            subject,
        )
    return _Scope(subject, user_ids, task_ids, organization_ids)


def _ids(
    connection: psycopg.Connection,
    found: list[Table],
    query: Callable[[Table], sql.Composable],
    subject: Subject,
    users: list[UUID] | None = None,
) -> list[UUID]:
    ids: set[UUID] = set()
    parameters = {
        "id": subject.id,
        "users": users or [],
        "org": subject.id if subject.kind == "organization" else None,
    }
    for table in found:
        ids.update(row[0] for row in connection.execute(query(table), parameters))
    return sorted(ids)


def _condition(table: Table, scope: _Scope) -> sql.Composable | None:
    """Which of the table's rows are the subject's (None: none can be)."""
    if (table.schema, table.name) in KEPT_AGGREGATES | ORGANIZATION_RECORDS:
        return None
    parts = []
    if scope.subject.kind == "organization" and "organization_id" in table.columns:
        parts.append(sql.SQL("organization_id = %(subject)s"))
    if "user_id" in table.columns:
        parts.append(sql.SQL("user_id = any(%(users)s)"))
    if table.name == "users" and "id" in table.columns:
        parts.append(sql.SQL("id = any(%(users)s)"))
    if "task_execution_id" in table.columns:
        parts.append(sql.SQL("task_execution_id = any(%(tasks)s)"))
    if "original_text" in table.columns:  # rejected rows: the unparsed line names the subject
        parts.append(sql.SQL("strpos(original_text, %(subject_text)s) > 0"))
        parts.append(sql.SQL("original_text ~ %(users_pattern)s"))
    if not parts:
        return None
    return sql.SQL("({})").format(sql.SQL(" or ").join(parts))


def _parameters(scope: _Scope) -> dict[str, object]:
    users_pattern = "|".join(str(user) for user in scope.user_ids) or "(?!)"
    return {
        "subject": scope.subject.id,
        "subject_text": str(scope.subject.id),
        "users": scope.user_ids,
        "users_pattern": users_pattern,
        "tasks": scope.task_ids,
    }


def _record(
    connection: psycopg.Connection,
    request_kind: str,
    subject: Subject,
    requested_by: str | None,
    dry_run: bool,
    destination: Path | None = None,
) -> int:
    row = connection.execute(
        """
        insert into privacy.requests
            (request_kind, subject_kind, subject_id, requested_by, dry_run, destination)
        values (%s, %s, %s, %s, %s, %s)
        returning request_id
        """,
        (
            request_kind,
            subject.kind,
            subject.id,
            requested_by or getpass.getuser(),
            dry_run,
            None if destination is None else str(destination),
        ),
    ).fetchone()
    assert row is not None
    return row[0]


def _complete(connection: psycopg.Connection, request_id: int, counts: dict[str, int]) -> None:
    connection.execute(
        "update privacy.requests set completed_at = clock_timestamp(), row_counts = %s "
        "where request_id = %s",
        (json.dumps(counts), request_id),
    )


def export_subject(
    connection: psycopg.Connection,
    subject: Subject,
    out: Path,
    *,
    requested_by: str | None = None,
    archive: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RequestResult:
    """Write every row about the subject, one JSON-lines file per table (the retention
    archive's rows too), and a summary."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"{ARCHIVE}.*.jsonl"):
        stale.unlink()
    with connection.transaction():
        request_id = _record(connection, "export", subject, requested_by, False, out)
        found = tables(connection)
        scope = _scope(connection, subject, found)
        parameters = _parameters(scope)
        counts: dict[str, int] = {}
        files = {}
        for table in found:
            condition = _condition(table, scope)
            if condition is None:
                continue
            path = out / f"{table.qualified}.jsonl"
            rows = 0
            digest = hashlib.sha256()
            withheld = WITHHELD_COLUMNS.get((table.schema, table.name), ())
            row_json = (sql.SQL("(to_jsonb(subject_row) - {}::text[])::text").format(
                sql.Literal(list(withheld))) if withheld
                else sql.SQL("row_to_json(subject_row)::text"))  # fmt: skip
            with path.open("w", encoding="utf-8") as handle:
                query = sql.SQL("select {} from {} as subject_row where {}").format(
                    row_json, table.identifier, condition
                )
                for (line,) in connection.execute(query, parameters):
                    data = (line + "\n").encode("utf-8")
                    handle.write(line + "\n")
                    digest.update(data)
                    rows += 1
            if rows == 0:
                path.unlink()
                continue
            counts[table.qualified] = rows
            files[path.name] = {"rows": rows, "sha256": digest.hexdigest()}
            progress(f"{table.qualified}: {rows:,} row{'' if rows == 1 else 's'}")
        for item, rows in _archived_rows(scope, archive or settings.archive_dir()):
            name = f"{ARCHIVE}.{item.table}.jsonl"
            with (out / name).open("a", encoding="utf-8") as handle:
                for row in rows.to_pylist():
                    handle.write(json.dumps(row, default=str) + "\n")
            key = f"{ARCHIVE}/{item.table}"
            counts[key] = counts.get(key, 0) + rows.num_rows
        for table_name in ("task_executions", "routing_decisions"):
            path = out / f"{ARCHIVE}.{table_name}.jsonl"
            if path.exists():
                files[path.name] = {
                    "rows": counts[f"{ARCHIVE}/{table_name}"],
                    "sha256": file_checksum(path),
                }
                progress(f"{ARCHIVE}/{table_name}: {counts[f'{ARCHIVE}/{table_name}']:,} rows")
        summary = {
            "request_id": request_id,
            "subject": {"kind": subject.kind, "id": str(subject.id)},
            "exported_at": datetime.now(UTC).isoformat(),
            "tables": counts,
            "files": files,
            "total_rows": sum(counts.values()),
            "withheld_columns": {
                f"{schema}.{name}": list(columns)
                for (schema, name), columns in WITHHELD_COLUMNS.items()
                if f"{schema}.{name}" in counts
            },
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        _complete(connection, request_id, counts)
    return RequestResult(request_id, subject, "export", False, counts, out)


def delete_subject(
    connection: psycopg.Connection,
    subject: Subject,
    *,
    dry_run: bool = False,
    requested_by: str | None = None,
    archive: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RequestResult:
    """Delete every row about the subject but organization-level aggregates, in one
    transaction, rewrite the retention archive's files without them, and record the subject
    as erased (a dry run counts and changes nothing but its own record)."""
    with connection.transaction():
        request_id = _record(connection, "delete", subject, requested_by, dry_run)
        found = tables(connection)
        scope = _scope(connection, subject, found)
        parameters = _parameters(scope)
        counts: dict[str, int] = {}
        for table in found:
            if _names_users_to_count_them(table):
                replaced = _stand_in(connection, table, scope.user_ids, dry_run=dry_run)
                if replaced:
                    counts[table.qualified + REPLACED] = replaced
                    progress(f"{table.qualified}: ids replaced by stand-ins in {replaced:,} rows")
                continue
            condition = _condition(table, scope)
            if condition is None:
                continue
            if dry_run:
                query = sql.SQL("select count(*) from {} where {}")
            else:
                query = sql.SQL("with gone as (delete from {} where {} returning 1) "
                                "select count(*) from gone")  # fmt: skip
            row = connection.execute(
                query.format(table.identifier, condition), parameters
            ).fetchone()
            assert row is not None
            if row[0]:
                counts[table.qualified] = row[0]
                progress(f"{table.qualified}: {row[0]:,} row{'' if row[0] == 1 else 's'}")
        archived = _delete_archived(scope, archive or settings.archive_dir(), dry_run=dry_run)
        for key, count in archived.items():
            counts[key] = count
            progress(f"{key}: {count:,} row{'' if count == 1 else 's'}")
        if not dry_run:
            connection.execute(
                """
                insert into privacy.erased_subjects (subject_id, subject_kind, request_id)
                values (%s, %s, %s)
                on conflict (subject_id) do nothing
                """,
                (subject.id, subject.kind, request_id),
            )
        _complete(connection, request_id, counts)
    return RequestResult(request_id, subject, "delete", dry_run, counts)


def _archived_rows(scope: _Scope, archive: Path) -> list[tuple[ArchiveFile, pa.Table]]:
    """The subject's rows in the retention archive, by file: their tasks' versions (by user or
    organization), then the routing decisions of those tasks."""
    if not archive.is_dir():
        return []
    organizations = {str(organization) for organization in scope.organization_ids}
    files = [
        item
        for item in archived_files(archive)
        if not organizations or item.organization_id in organizations
    ]
    users = pa.array([str(user) for user in scope.user_ids], type=pa.string())
    found: list[tuple[ArchiveFile, pa.Table]] = []
    task_ids: set[str] = set()
    for item in (item for item in files if item.table == "task_executions"):
        rows = pq.read_table(archive / item.path)
        mine = pc.is_in(rows["user_id"], value_set=users)
        if scope.subject.kind == "organization":
            mine = pc.or_(mine, pc.equal(rows["organization_id"], str(scope.subject.id)))
        rows = rows.filter(mine)
        if rows.num_rows:
            found.append((item, rows))
            task_ids.update(rows["id"].to_pylist())
    tasks = pa.array(sorted(task_ids), type=pa.string())
    for item in (item for item in files if item.table == "routing_decisions"):
        rows = pq.read_table(archive / item.path)
        rows = rows.filter(pc.is_in(rows["task_execution_id"], value_set=tasks))
        if rows.num_rows:
            found.append((item, rows))
    return found


def _delete_archived(scope: _Scope, archive: Path, *, dry_run: bool) -> dict[str, int]:
    """Rewrite each archive file holding the subject's rows without them (a file left empty is
    removed), then its run's manifest with the new row count and checksum."""
    counts: dict[str, int] = {}
    changed: dict[str, dict[str, ArchiveFile | None]] = {}
    for item, rows in _archived_rows(scope, archive):
        key = f"{ARCHIVE}/{item.table}"
        counts[key] = counts.get(key, 0) + rows.num_rows
        if dry_run:
            continue
        path = archive / item.path
        everything = pq.read_table(path)
        column = "id" if item.table == "task_executions" else "task_execution_id"
        gone = pa.array(sorted(set(rows[column].to_pylist())), type=pa.string())
        kept = everything.filter(pc.invert(pc.is_in(everything[column], value_set=gone)))
        run_id = path.stem
        if kept.num_rows == 0:
            path.unlink()
            changed.setdefault(run_id, {})[item.path] = None
            continue
        write_parquet(kept, path)
        changed.setdefault(run_id, {})[item.path] = ArchiveFile(
            path=item.path,
            table=item.table,
            organization_id=item.organization_id,
            month=item.month,
            rows=kept.num_rows,
            sha256=file_checksum(path),
            bytes=path.stat().st_size,
        )
    for run_id, files in changed.items():
        update_manifest(archive, run_id, files)
    return counts


def _names_users_to_count_them(table: Table) -> bool:
    """Tables that name users only so that aggregates count them: the day state's lists of
    user ids (int_organization_days, which counts distinct users over weeks and months) and
    STAND_IN_TABLES."""
    return "user_ids" in table.columns or (table.schema, table.name) in STAND_IN_TABLES


def _stand_in(
    connection: psycopg.Connection, table: Table, user_ids: list[UUID], *, dry_run: bool
) -> int:
    """Replace each erased user's id (``user_id``, or in the list ``user_ids``) by one new
    random id, the same in every row of the table: the counts stay what they were, and nobody
    is named. Returns the rows changed (or that would be)."""
    if "user_ids" in table.columns:
        named = sql.SQL("named.user_ids && %(users)s::uuid[]")
        replace = sql.SQL(
            "set user_ids = array("
            "select coalesce(stand_in.stand_in_id, listed.user_id) "
            "from unnest(named.user_ids) as listed (user_id) "
            "left join stand_in on listed.user_id = stand_in.user_id order by 1)"
        )
    else:
        named = sql.SQL("named.user_id = any(%(users)s::uuid[])")
        replace = sql.SQL(
            "set user_id = (select stand_in.stand_in_id from stand_in "
            "where stand_in.user_id = named.user_id)"
        )
    if dry_run:
        query = sql.SQL("select count(*) from {table} as named where {named}")
    else:
        query = sql.SQL(
            """
            with stand_in as materialized (
                select erased.id as user_id, gen_random_uuid() as stand_in_id
                from unnest(%(users)s::uuid[]) as erased (id)
            ),

            replaced as (
                update {table} as named {replace}
                where {named}
                returning 1
            )

            select count(*) from replaced
            """
        )
    row = connection.execute(
        query.format(table=table.identifier, named=named, replace=replace), {"users": user_ids}
    ).fetchone()
    return row[0] if row else 0
