"""Reading landing files and checking each row against the landing contract.

Readers turn a CSV, JSONL or Parquet file into ``SourceRow`` records (line number, field
values, original text). ``convert_row`` types every field per the contract, sanitizes free text,
and either returns the typed values or says which field is wrong and why. A file that cannot be
read at all raises ``LandingFileError`` naming the file (and line, where there is one).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from warehouse.ingest.contract import FILE_FORMATS, TABLES, Column, ColumnType, Table
from warehouse.privacy.sanitize import sanitize_with_kinds

INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
INTEGER_LIMITS = {
    ColumnType.INTEGER: (-(2**31), 2**31 - 1),
    ColumnType.BIGINT: (-(2**63), 2**63 - 1),
}
PARQUET_BATCH_ROWS = 10_000


class LandingFileError(Exception):
    """The file as a whole cannot be loaded; nothing from it is stored."""


class FieldError(ValueError):
    """One field of one row does not fit its column."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    table: Table
    file_format: str

    @property
    def display_name(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class SourceRow:
    line: int
    values: dict[str, Any] | None  # None when the line itself could not be parsed
    original_text: str
    problem: tuple[str, str] | None = None  # (field, reason) for unparseable lines


@dataclass(frozen=True)
class Rejection:
    field: str
    reason: str


def landing_file_for(path: Path) -> LandingFile | None:
    """Map ``<table>.<ext>`` or ``<table>__<anything>.<ext>`` to its raw table, else None."""
    name = path.name
    if name.startswith((".", "_")):
        return None
    stem, _, extension = name.partition(".")
    if extension not in FILE_FORMATS:
        return None
    table_name = stem.split("__", 1)[0]
    table = TABLES.get(table_name)
    if table is None:
        return None
    return LandingFile(path=path, table=table, file_format=extension)


# The generator's description of what it wrote; lives beside the landing files, never loaded.
GENERATOR_MANIFEST = "_manifest.json"
EXPECTED_NAMES = (
    f"<table>.<ext> or <table>__<anything>.<ext>, with <table> one of {', '.join(TABLES)} "
    f"and <ext> one of {', '.join(FILE_FORMATS)}"
)


def is_silently_ignored(path: Path, root: Path | None = None) -> bool:
    """Hidden files (``.part-x.csv`` while it is written, any dotfile, anything under a hidden
    directory below ``root``) and the generator's ``_manifest.json``: never loaded, never
    reported."""
    parts = path.relative_to(root).parts if root is not None else (path.name,)
    return path.name == GENERATOR_MANIFEST or any(part.startswith(".") for part in parts)


def why_not_a_landing_file(path: Path) -> str:
    """Why ``landing_file_for`` refuses ``path``, in a few words."""
    name = path.name
    if name.startswith("."):
        return "a hidden file (the name starts with a dot)"
    stem, dot, extension = name.partition(".")
    if extension not in FILE_FORMATS:
        found = f"extension .{extension}" if dot else "no extension"
        return f"{found}; expected one of {', '.join('.' + item for item in FILE_FORMATS)}"
    table_name = stem.split("__", 1)[0]
    guesses = difflib.get_close_matches(table_name, list(TABLES), n=1)
    hint = f" (did you mean {guesses[0]}?)" if guesses else ""
    return f"no table named {table_name!r}{hint}"


# --------------------------------------------------------------------------- readers


def read_rows(landing_file: LandingFile) -> Iterator[SourceRow]:
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    return readers[landing_file.file_format](landing_file)


def _check_columns(landing_file: LandingFile, columns: list[str]) -> None:
    table = landing_file.table
    unknown = [column for column in columns if column not in table.column_names]
    if unknown:
        raise LandingFileError(
            f"{landing_file.display_name}: unknown column(s) {', '.join(unknown)} for table "
            f"{table.name}; expected a subset of: {', '.join(table.column_names)}"
        )
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise LandingFileError(
            f"{landing_file.display_name}: column(s) {', '.join(duplicated)} appear twice"
        )
    missing = [
        column.name for column in table.columns if column.required and column.name not in columns
    ]
    if missing:
        raise LandingFileError(
            f"{landing_file.display_name}: required column(s) {', '.join(missing)} missing "
            f"from the header"
        )


def _open_text(landing_file: LandingFile) -> io.TextIOWrapper:
    try:
        return open(landing_file.path, encoding="utf-8-sig", newline="")
    except OSError as error:
        raise LandingFileError(f"{landing_file.display_name}: cannot open: {error}") from error


def csv_text(fields: list[str]) -> str:
    """A record's fields as one CSV line: the original text kept with a rejected row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def _csv_header(landing_file: LandingFile, reader: Any) -> list[str]:
    """The first record of ``reader``, stripped and checked against the contract."""
    header = next(reader, None)
    if header is None:
        raise LandingFileError(f"{landing_file.display_name}: empty file, no header row")
    header = [column.strip() for column in header]
    _check_columns(landing_file, header)
    return header


def _wrong_field_count(line: int, fields: list[str], width: int) -> SourceRow:
    return SourceRow(
        line, None, csv_text(fields), ("<row>", f"expected {width} fields, found {len(fields)}")
    )


@contextlib.contextmanager
def csv_read_errors(landing_file: LandingFile, reader: Any) -> Iterator[None]:
    """Turn what Python's CSV reader raises while reading into ``LandingFileError`` naming the
    file and line (the per-row and the column-wise paths say the same)."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise LandingFileError(
            f"{landing_file.display_name}: not valid UTF-8 after line {reader.line_num}: "
            f"{error.reason}"
        ) from error
    except csv.Error as error:
        raise LandingFileError(
            f"{landing_file.display_name}: line {reader.line_num}: malformed CSV: {error}"
        ) from error


def _read_csv(landing_file: LandingFile) -> Iterator[SourceRow]:
    with _open_text(landing_file) as handle:
        reader = csv.reader(handle, strict=True)
        with csv_read_errors(landing_file, reader):
            header = _csv_header(landing_file, reader)
            line = reader.line_num
            for fields in reader:
                line_start, line = line + 1, reader.line_num
                original = csv_text(fields)
                if fields == []:
                    continue
                if len(fields) != len(header):
                    yield _wrong_field_count(line_start, fields, len(header))
                    continue
                yield SourceRow(line_start, dict(zip(header, fields, strict=True)), original)


def _read_jsonl(landing_file: LandingFile) -> Iterator[SourceRow]:
    with _open_text(landing_file) as handle:
        line = 0
        try:
            for line, text in enumerate(handle, start=1):
                stripped = text.strip()
                if not stripped:
                    continue
                try:
                    values = json.loads(stripped)
                except json.JSONDecodeError as error:
                    yield SourceRow(line, None, stripped, ("<row>", f"invalid JSON: {error.msg}"))
                    continue
                if not isinstance(values, dict):
                    yield SourceRow(line, None, stripped, ("<row>", "line is not a JSON object"))
                    continue
                yield SourceRow(line, values, stripped)
        except UnicodeDecodeError as error:
            raise LandingFileError(
                f"{landing_file.display_name}: not valid UTF-8 after line {line}: {error.reason}"
            ) from error


def _read_parquet(landing_file: LandingFile) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(landing_file.path)
    except Exception as error:  # pyarrow raises several types for unreadable files
        raise LandingFileError(
            f"{landing_file.display_name}: not a readable Parquet file: {error}"
        ) from error
    _check_columns(landing_file, list(parquet.schema_arrow.names))
    line = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for values in batch.to_pylist():
                line += 1
                yield SourceRow(line, values, json.dumps(values, default=str, sort_keys=True))
    except Exception as error:
        raise LandingFileError(
            f"{landing_file.display_name}: row group after row {line} unreadable: {error}"
        ) from error


# --------------------------------------------------------------------------- conversion


def convert_row(
    table: Table,
    values: dict[str, Any],
    redactions: Counter[tuple[str, str]] | None = None,
) -> tuple[dict[str, Any], list[Rejection]]:
    """Type every field of ``values`` per the contract; collect every field that does not fit.

    ``redactions``: when the row fits, the sanitizer's findings in it are added, per (column,
    kind) (a rejected row's text is stored in raw.rejected_rows, sanitized there).
    """
    typed: dict[str, Any] = {}
    problems: list[Rejection] = []
    found: list[tuple[str, str]] = []
    for name, value in values.items():
        try:
            column = table.column(name)
        except KeyError:
            problems.append(Rejection(name, f"unknown column for table {table.name}"))
            continue
        try:
            typed[name] = convert_value(column, value, found)
        except FieldError as error:
            problems.append(Rejection(name, str(error)))
    flagged = {problem.field for problem in problems}
    for column in table.columns:
        if column.required and typed.get(column.name) is None and column.name not in flagged:
            problems.append(Rejection(column.name, "missing required field"))
    if redactions is not None and found and not problems:
        redactions.update(found)
    return typed, problems


def rejection_reason(problems: list[Rejection]) -> tuple[str, str]:
    """The field and reason stored for a rejected row: its first problem, then the others."""
    first, *others = problems
    reason = first.reason
    if others:
        reason += "; also " + "; ".join(f"{p.field}: {p.reason}" for p in others)
    return first.field, reason


def convert_value(column: Column, value: Any, found: list[tuple[str, str]] | None = None) -> Any:
    """``value`` typed for ``column`` (sanitized free text: each finding's (column, kind) is
    appended to ``found``)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    converter = CONVERTERS[column.type]
    converted = converter(value)
    if column.sanitize and converted is not None:
        sanitized, kinds = sanitize_with_kinds(converted)
        if kinds and found is not None:
            found.extend((column.name, kind) for kind in kinds)
        return sanitized
    return converted


def _describe(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise FieldError(f"not a UUID: {_describe(value)}")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise FieldError(f"not a UUID: {_describe(value)}") from None


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | dict | list):
        raise FieldError(f"not text: {_describe(value)}")
    else:
        text = str(value)
    if "\x00" in text:
        raise FieldError("text contains a NUL character")
    return text


def _to_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(f"not an ISO-8601 timestamp: {_describe(value)}") from None
    else:
        raise FieldError(f"not an ISO-8601 timestamp: {_describe(value)}")
    if moment.tzinfo is None:  # the contract says UTC when no offset is given
        moment = moment.replace(tzinfo=UTC)
    return moment


def _to_numeric(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise FieldError(f"not a number: {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(f"not a finite number: {_describe(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(f"not a number: {_describe(value)}") from None
    if not number.is_finite():
        raise FieldError(f"not a finite number: {_describe(value)}")
    return number


def _integer(kind: ColumnType):
    low, high = INTEGER_LIMITS[kind]

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise FieldError(f"not an integer: {_describe(value)}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and INTEGER_TEXT.match(value.strip()):
            number = int(value.strip())
        else:
            raise FieldError(f"not an integer: {_describe(value)}")
        if not low <= number <= high:
            raise FieldError(f"integer out of range: {_describe(value)}")
        return number

    return convert


def _to_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            raise FieldError(f"invalid JSON: {error.msg}") from None
    else:
        parsed = value
    return json.dumps(parsed, sort_keys=True, default=str)


CONVERTERS = {
    ColumnType.UUID: _to_uuid,
    ColumnType.TEXT: _to_text,
    ColumnType.TIMESTAMPTZ: _to_timestamp,
    ColumnType.NUMERIC: _to_numeric,
    ColumnType.INTEGER: _integer(ColumnType.INTEGER),
    ColumnType.BIGINT: _integer(ColumnType.BIGINT),
    ColumnType.JSONB: _to_json,
}
