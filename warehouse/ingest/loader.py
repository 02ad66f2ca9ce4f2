"""Load landing files into the raw tables: COPY, one transaction per file, nothing lost.

For each file: skip it when a file with the same checksum was loaded before (unless forced);
otherwise read and type every row, COPY the good rows into ``raw.<table>`` and the bad ones into
``raw.rejected_rows`` (line, field, reason, original text), record the batch in
``raw.load_batches`` and the sanitizer's redactions per column and kind in
``raw.redaction_counts``, all in one transaction. A file that cannot be read is recorded as a
failed batch and nothing of it is kept.

CSV files are typed a chunk of rows at a time, column by column (``columnar.type_chunk``), and
sent as CSV while the next chunk is typed; JSONL and Parquet files, and CSV files when
``per_row`` is set, go row by row (``convert_row``). Both paths store the same rows and the
same rejections (``tests/test_loader_fast_path.py``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.adapt import Transformer
from psycopg.copy import QueuedLibpqWriter

from warehouse.ingest.columnar import type_chunk
from warehouse.ingest.contract import LINEAGE_COLUMNS, TABLES
from warehouse.ingest.csv_chunks import read_csv_chunks
from warehouse.ingest.migrations import apply_migrations
from warehouse.ingest.parsing import (
    EXPECTED_NAMES,
    LandingFile,
    LandingFileError,
    convert_row,
    is_silently_ignored,
    landing_file_for,
    read_rows,
    rejection_reason,
    why_not_a_landing_file,
)
from warehouse.privacy.erased import drop_erased_rows
from warehouse.privacy.sanitize import sanitize_with_kinds

logger = logging.getLogger(__name__)

TABLE_ORDER = list(TABLES)  # reference data first, then events
CHECKSUM_LOCK_NAMESPACE = 731_002
CSV_CHUNK_ROWS = 20_000  # rows typed and sent at a time (a few MB)
# months of raw.task_executions made before each load of it: from (now - the first) to (now +
# the second); other months are made after the load (rows moved out of the default partition)
CURRENT_MONTHS = ("100 days", "31 days")
# Redactions per (raw table, column, kind) in one batch.
Redactions = Counter[tuple[str, str, str]]


@dataclass(frozen=True)
class BatchResult:
    file: str
    table: str
    status: str  # loaded | skipped | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    batch_id: int | None = None
    seconds: float = 0.0
    message: str = ""
    rows_erased: int = 0  # rows of erased subjects, dropped (warehouse/privacy/requests.py)
    redactions: int = 0  # findings the sanitizer replaced (raw.redaction_counts)


@dataclass(frozen=True)
class UnrecognizedFile:
    """A file that is not a landing file, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Discovery:
    files: list[LandingFile]
    # Every other file found: hidden files, the generator's manifest, unrecognized files.
    ignored: list[Path]
    # Those of the ignored files that must be reported (a misnamed file is data that never
    # arrives): neither hidden nor the generator's manifest.
    unrecognized: list[UnrecognizedFile] = field(default_factory=list)


def discover(paths: Iterable[Path], *, collect_unrecognized: bool = False) -> Discovery:
    """Expand files and directories into landing files, in load order.

    Inside a directory, other files are ignored; those that are neither hidden nor
    ``_manifest.json`` are also listed as unrecognized, with the reason. A file named
    explicitly must be a landing file (``LandingFileError``), unless ``collect_unrecognized``:
    then it is listed as unrecognized too.
    """
    files: list[LandingFile] = []
    ignored: list[Path] = []
    unrecognized: list[UnrecognizedFile] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                landing_file = landing_file_for(child)
                if landing_file is not None:
                    files.append(landing_file)
                    continue
                ignored.append(child)
                if not is_silently_ignored(child, root=path):
                    unrecognized.append(UnrecognizedFile(child, why_not_a_landing_file(child)))
        elif path.is_file():
            landing_file = landing_file_for(path)
            if landing_file is not None:
                files.append(landing_file)
                continue
            reason = why_not_a_landing_file(path)
            if not collect_unrecognized:
                raise LandingFileError(
                    f"{path}: not a landing file ({reason}); expected {EXPECTED_NAMES}"
                )
            ignored.append(path)
            unrecognized.append(UnrecognizedFile(path, reason))
        else:
            raise LandingFileError(f"{path}: no such file or directory")
    files.sort(key=lambda item: (TABLE_ORDER.index(item.table.name), str(item.path)))
    return Discovery(files=files, ignored=ignored, unrecognized=unrecognized)


def file_signature(path: Path) -> str:
    """Size and modification time: what tells a changed file without reading it."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_paths(
    connection: psycopg.Connection,
    paths: Iterable[Path],
    *,
    force: bool = False,
    per_row: bool = False,
) -> list[BatchResult]:
    """Load every landing file under ``paths``; return one result per file.

    Each file is its own transaction: a file that cannot be loaded is reported as ``failed``
    (nothing of it kept) and the other files still load. ``per_row`` types CSV files row by row
    too (the reference the column-wise path is tested against).
    """
    discovery = discover(paths)
    apply_migrations(connection)
    return [
        load_or_fail(connection, item, force=force, per_row=per_row) for item in discovery.files
    ]


def load_or_fail(
    connection: psycopg.Connection,
    landing_file: LandingFile,
    *,
    force: bool = False,
    per_row: bool = False,
) -> BatchResult:
    """``load_file``, with a file that cannot be loaded reported as a ``failed`` result."""
    try:
        return load_file(connection, landing_file, force=force, per_row=per_row)
    except LandingFileError as error:
        return BatchResult(
            landing_file.display_name, landing_file.table.name, "failed", message=str(error)
        )


def load_file(
    connection: psycopg.Connection,
    landing_file: LandingFile,
    *,
    force: bool = False,
    per_row: bool = False,
) -> BatchResult:
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    name = landing_file.display_name
    table = landing_file.table.name
    try:
        attempt = _Attempt(
            landing_file,
            file_checksum(landing_file.path),
            landing_file.path.stat().st_size,
            started_at,
            force,
        )
    except OSError as error:
        raise LandingFileError(f"{name}: cannot read: {error}") from error
    try:
        with connection.transaction():
            connection.execute(
                "select pg_advisory_xact_lock(%s, hashtext(%s))",
                (CHECKSUM_LOCK_NAMESPACE, attempt.checksum),
            )
            previous = _previous_batch(connection, attempt.checksum)
            if previous is not None and not force:
                return BatchResult(
                    name,
                    table,
                    "skipped",
                    batch_id=previous,
                    message=f"already loaded as batch {previous} (use --force to load again)",
                )
            batch_id = _insert_batch(connection, attempt, "loaded")
            if table == "task_executions":
                _create_current_months(connection)
            redactions: Redactions = Counter()
            if landing_file.file_format == "csv" and not per_row:
                counts = _copy_csv(connection, landing_file, batch_id, redactions)
            else:
                counts = _copy_rows(connection, landing_file, batch_id, redactions)
            if table == "task_executions":
                _create_months(connection)
            _record_redactions(connection, batch_id, redactions)
            erased = drop_erased_rows(connection, table, sql.Identifier("raw", table), batch_id)
            if table == "task_executions":
                _absorb_into_live_store(connection, batch_id)
            _close_batch(connection, batch_id, counts, erased, started)
    except LandingFileError as error:
        _record_failure(connection, attempt, str(error))
        raise
    except psycopg.Error as error:
        message = f"{name}: the database refused the load, nothing was kept: {_first_line(error)}"
        _record_failure(connection, attempt, message)
        raise LandingFileError(message) from error
    read, loaded, rejected = counts
    return BatchResult(
        name,
        table,
        "loaded",
        read,
        loaded - erased,
        rejected,
        batch_id=batch_id,
        seconds=time.perf_counter() - started,
        rows_erased=erased,
        redactions=sum(redactions.values()),
    )


def _absorb_into_live_store(connection: psycopg.Connection, batch_id: int) -> None:
    """Rank, check and price the batch's tasks into the live store, in the file's transaction
    (raw.live_store_absorb, made by the store's build: docs/live.md, "The live store"), so
    that the live view reads them instead of computing them at each query. Before the first
    build there is no store: the live view then computes the batch's tasks itself."""
    absorb = connection.execute(
        "select to_regprocedure('raw.live_store_absorb(bigint)') is not null"
    ).fetchone()[0]
    if absorb:
        connection.execute("select raw.live_store_absorb(%s)", (batch_id,))


def _create_current_months(connection: psycopg.Connection) -> None:
    """The months a file usually holds (the retention window and the next month), made
    before its rows are written, so that they go straight to their partitions: rows that land
    in the default partition are written twice (16 s instead of 10 s for 1 M versions)."""
    connection.execute(
        "select raw.ensure_task_execution_months(now() - %s::interval, now() + %s::interval)",
        CURRENT_MONTHS,
    )


def _create_months(connection: psycopg.Connection) -> None:
    """Rows of a month without its partition land in the default one: create those months
    and move the rows there (migration 0005; the first file of a month, or a month left by a
    load that found the default partition in use)."""
    connection.execute("select raw.place_default_task_executions()")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _previous_batch(connection: psycopg.Connection, checksum: str) -> int | None:
    row = connection.execute(
        "select min(batch_id) from raw.load_batches where file_checksum = %s and status = 'loaded'",
        (checksum,),
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class _Attempt:
    """One attempt at loading one file: what is recorded in raw.load_batches."""

    landing_file: LandingFile
    checksum: str
    size: int
    started_at: datetime
    force: bool


def _insert_batch(
    connection: psycopg.Connection, attempt: _Attempt, status: str, error: str | None = None
) -> int:
    row = connection.execute(
        """
        insert into raw.load_batches
            (table_name, source_file, file_format, file_checksum, file_bytes, status,
             is_forced, error_message, started_at, finished_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s,
                case when %s = 'failed' then clock_timestamp() end)
        returning batch_id
        """,
        (
            attempt.landing_file.table.name,
            attempt.landing_file.display_name,
            attempt.landing_file.file_format,
            attempt.checksum,
            attempt.size,
            status,
            attempt.force,
            error,
            attempt.started_at,
            status,
        ),
    ).fetchone()
    return row[0]


def _copy_rows(
    connection: psycopg.Connection,
    landing_file: LandingFile,
    batch_id: int,
    redactions: Redactions,
) -> tuple[int, int, int]:
    """COPY good rows into the raw table and bad ones into rejected_rows; return the counts
    and add the sanitizer's findings to ``redactions``."""
    table = landing_file.table
    columns = [*table.column_names, *LINEAGE_COLUMNS[1:]]  # _loaded_at defaults to now()
    copy_rows = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("raw", table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rejected: list[tuple] = []
    read = loaded = 0
    source_file = landing_file.display_name
    found: Counter[tuple[str, str]] = Counter()
    with connection.cursor() as cursor, cursor.copy(copy_rows) as copy:
        for source_row in read_rows(landing_file):
            read += 1
            if source_row.values is None:
                field, reason = source_row.problem
                rejected.append((source_row.line, field, reason, source_row.original_text))
                continue
            typed, problems = convert_row(table, source_row.values, found)
            if problems:
                field, reason = rejection_reason(problems)
                rejected.append((source_row.line, field, reason, source_row.original_text))
                continue
            copy.write_row(
                [
                    *(typed.get(name) for name in table.column_names),
                    batch_id,
                    source_file,
                    source_row.line,
                ]
            )
            loaded += 1
    _add_columns(redactions, table.name, found)
    if rejected:
        _store_rejections(connection, landing_file, batch_id, rejected, redactions)
    return read, loaded, len(rejected)


def _copy_csv(
    connection: psycopg.Connection,
    landing_file: LandingFile,
    batch_id: int,
    redactions: Redactions,
) -> tuple[int, int, int]:
    """``_copy_rows`` for a CSV file, a chunk at a time: typed column-wise, sent as CSV.

    The COPY runs with ``TimeZone`` UTC (a timestamp without an offset is UTC, as the contract
    says) and reads UTF-8 whatever the client encoding. A queued writer sends each chunk from a
    thread while the next one is typed, so the server's work overlaps the loader's.
    """
    table = landing_file.table
    columns = [*table.column_names, *LINEAGE_COLUMNS[1:]]  # _loaded_at defaults to now()
    copy_rows = sql.SQL("copy {} ({}) from stdin with (format csv, encoding 'UTF8')").format(
        sql.Identifier("raw", table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    connection.execute("set local timezone = 'UTC'")
    rejected: list[tuple] = []
    read = loaded = 0
    lineage = (batch_id, landing_file.display_name)
    encoding = connection.info.encoding
    with connection.cursor() as cursor:
        transformer = Transformer(cursor)
        with cursor.copy(copy_rows, writer=QueuedLibpqWriter(cursor)) as copy:
            for chunk in read_csv_chunks(landing_file, CSV_CHUNK_ROWS):
                typed = type_chunk(table, chunk, lineage, transformer, encoding)
                read += chunk.rows_read
                loaded += typed.rows
                rejected.extend(typed.rejected)
                _add_columns(redactions, table.name, typed.redactions)
                if typed.rows:
                    copy.write(typed.csv)
    if rejected:
        _store_rejections(connection, landing_file, batch_id, rejected, redactions)
    return read, loaded, len(rejected)


def _add_columns(redactions: Redactions, table_name: str, found: Counter[tuple[str, str]]) -> None:
    for (column, kind), count in found.items():
        redactions[(table_name, column, kind)] += count


def _store_rejections(
    connection: psycopg.Connection,
    landing_file: LandingFile,
    batch_id: int,
    rejected: list[tuple],
    redactions: Redactions,
) -> None:
    copy_rejected = (
        "copy raw.rejected_rows (batch_id, table_name, source_file, source_line, field, reason, "
        "original_text) from stdin"
    )
    with connection.cursor() as cursor, cursor.copy(copy_rejected) as copy:
        for line, field, reason, original_text in rejected:
            sanitized, kinds = sanitize_with_kinds(original_text)  # rejected text may hold PII
            for kind in kinds:
                redactions[("rejected_rows", "original_text", kind)] += 1
            copy.write_row(
                (
                    batch_id,
                    landing_file.table.name,
                    landing_file.display_name,
                    line,
                    field,
                    reason,
                    sanitized,
                )
            )


def _record_redactions(
    connection: psycopg.Connection, batch_id: int, redactions: Redactions
) -> None:
    """One row per (raw table, column, kind) the sanitizer replaced something of."""
    if not redactions:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "insert into raw.redaction_counts "
            "(batch_id, table_name, column_name, kind, redactions) values (%s, %s, %s, %s, %s)",
            [(batch_id, *key, count) for key, count in sorted(redactions.items())],
        )


def _close_batch(
    connection: psycopg.Connection,
    batch_id: int,
    counts: tuple[int, int, int],
    erased: int,
    started: float,
) -> None:
    """Record the file's counts: read = loaded + rejected + erased (rows of subjects whose data
    was deleted, dropped before the commit: warehouse/privacy/requests.py)."""
    read, loaded, rejected = counts
    connection.execute(
        """
        update raw.load_batches
        set rows_read = %s, rows_loaded = %s, rows_rejected = %s, rows_erased = %s,
            finished_at = clock_timestamp(), duration_ms = %s
        where batch_id = %s
        """,
        (
            read,
            loaded - erased,
            rejected,
            erased,
            round((time.perf_counter() - started) * 1000),
            batch_id,
        ),
    )


def _record_failure(connection: psycopg.Connection, attempt: _Attempt, message: str) -> None:
    """Keep a trace of a failed attempt (after the file's own transaction rolled back)."""
    with connection.transaction():
        _insert_batch(connection, attempt, "failed", message)
    logger.error("%s", message)
