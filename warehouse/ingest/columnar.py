"""The CSV fast path: type and check a chunk of rows column by column, with pyarrow compute.

``type_chunk`` gives the same result as running ``convert_row`` on every row of the chunk, for a
fraction of the cost. Each column is checked with a pattern that accepts a strict subset of what
its per-row converter accepts, and for that subset the text handed to PostgreSQL is stored as
the same value the converter's output is:

- empty or whitespace-only (Python's ``str.strip`` whitespace): NULL, as ``convert_value``;
- uuid: the 8-4-4-4-12 hex form; PostgreSQL parses it to the same 128 bits as ``uuid.UUID``;
- timestamptz: ``YYYY-MM-DD[(T| )HH:MM[:SS[.f{1,6}]][Z|+HH|+HHMM|+HH:MM]]``, years 1000-2999,
  real calendar days, hours 00-23, offsets up to 14 hours; the COPY runs with ``TimeZone`` UTC,
  so a value without an offset is UTC, as the contract (and ``_to_timestamp``) says;
- numeric: plain decimals (``[+-]digits[.digits]``, at most 30 digits each side);
- integer and bigint: ``[+-]`` and at most 9 or 18 ASCII digits (always in range);
- text: anything without a NUL character;
- jsonb and sanitized text: the per-row function itself (``_to_json``, ``sanitize_text``),
  applied once per distinct value; text that cannot hold a finding (checked with a pattern that
  matches a superset of ``sanitize_text``'s own pre-check) is kept as it is. The findings of a
  distinct value count once for every stored row that holds it (``TypedChunk.redactions``).

A row with any field outside its subset goes through ``convert_row``: rejected with the
per-row path's field and reason, or accepted with the per-row path's typed values (rendered by
psycopg's own dumpers). The good rows leave as CSV for ``COPY ... (format csv)``: every string
quoted, NULL as an empty unquoted field.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg.adapt import PyFormat, Transformer

from warehouse.ingest.contract import ColumnType, Table
from warehouse.ingest.csv_chunks import CsvChunk
from warehouse.ingest.parsing import (
    CONVERTERS,
    FieldError,
    convert_row,
    csv_text,
    rejection_reason,
)
from warehouse.privacy.sanitize import MAY_HOLD_FINDING, sanitize_with_kinds

# The characters str.strip() removes (str.isspace), as a RE2 class; a test checks the list.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
BLANK = "^[" + "".join(f"\\x{{{ord(character):x}}}" for character in PYTHON_WHITESPACE) + "]*$"
UUID_TEXT = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
TIMESTAMP_TEXT = (
    r"^[12][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?)?)?$"
)
NUMERIC_TEXT = r"^[+-]?[0-9]{1,30}(?:\.[0-9]{1,30})?$"
INTEGER_TEXT = {
    ColumnType.INTEGER: r"^[+-]?[0-9]{1,9}$",
    ColumnType.BIGINT: r"^[+-]?[0-9]{1,18}$",
}
DAYS_IN_MONTH = pa.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int8())
CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


@dataclass(frozen=True)
class TypedChunk:
    """The good rows of a chunk as CSV (``csv`` holds ``rows`` rows), and the rejected ones as
    (line, field, reason, original text), in line order; ``redactions``: the sanitizer's
    findings in the good rows, per (column, kind)."""

    csv: bytes
    rows: int
    rejected: list[tuple[int, str, str, str]]
    redactions: Counter[tuple[str, str]]


@dataclass(frozen=True)
class _Findings:
    """A sanitized column's findings: ``indices`` maps each row to its distinct value (null:
    not sanitized), ``kinds`` lists the findings of each distinct value."""

    indices: pa.Array
    kinds: list[list[str]]

    def count(self, column: str, rows: pa.Array, into: Counter[tuple[str, str]]) -> None:
        """Add the findings of the rows selected by the boolean array ``rows``."""
        if not any(self.kinds):
            return
        counted = pc.value_counts(pc.filter(self.indices, rows))
        for index, times in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        ):
            if index is not None:
                for kind in self.kinds[index]:
                    into[(column, kind)] += times


def _true(length: int) -> pa.Array:
    return pa.repeat(pa.scalar(True), length)


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _per_distinct(values: pa.Array, function: Callable[[str], str]) -> tuple[pa.Array, pa.Array]:
    """``function`` of every non-null value, computed once per distinct value; also whether it
    succeeded (``FieldError``: False, output null). Nulls stay null (and count as succeeded)."""
    encoded = pc.dictionary_encode(values)
    outputs: list[str | None] = []
    succeeded: list[bool] = []
    for value in encoded.dictionary.to_pylist():
        try:
            outputs.append(function(value))
            succeeded.append(True)
        except FieldError:
            outputs.append(None)
            succeeded.append(False)
    indices = encoded.indices
    output = pc.take(pa.array(outputs, pa.string()), indices)
    ok = pc.fill_null(pc.take(pa.array(succeeded, pa.bool_()), indices), True)
    return output, ok


def _sanitized(values: pa.Array) -> tuple[pa.Array, _Findings]:
    """``sanitize_text`` of every non-null value, once per distinct value, and the findings."""
    encoded = pc.dictionary_encode(values)
    outputs: list[str | None] = []
    kinds: list[list[str]] = []
    for value in encoded.dictionary.to_pylist():
        output, found = sanitize_with_kinds(value)
        outputs.append(output)
        kinds.append(found)
    output = pc.take(pa.array(outputs, pa.string()), encoded.indices)
    return output, _Findings(encoded.indices, kinds)


def _valid_calendar_day(values: pa.Array, matched: pa.Array) -> pa.Array:
    """For values matching TIMESTAMP_TEXT: is YYYY-MM-DD a real day (29 February in leap
    years only)? Other values: True (they are decided elsewhere)."""
    dates = pc.if_else(matched, pc.utf8_slice_codeunits(values, 0, 10), "2000-01-01")
    year = pc.cast(pc.utf8_slice_codeunits(dates, 0, 4), pa.int32())
    month = pc.cast(pc.utf8_slice_codeunits(dates, 5, 7), pa.int32())
    day = pc.cast(pc.utf8_slice_codeunits(dates, 8, 10), pa.int32())
    leap = pc.and_(
        pc.equal(pc.modulo(year, 4), 0),
        pc.or_(pc.not_equal(pc.modulo(year, 100), 0), pc.equal(pc.modulo(year, 400), 0)),
    )
    last_day = pc.take(DAYS_IN_MONTH, pc.subtract(month, 1))
    last_day = pc.if_else(pc.and_(pc.equal(month, 2), leap), 29, pc.cast(last_day, pa.int32()))
    return pc.less_equal(day, last_day)


def _fast_column(
    column_type: ColumnType, sanitize: bool, values: pa.Array, blank: pa.Array
) -> tuple[pa.Array, pa.Array, _Findings | None]:
    """(the text PostgreSQL gets, null for blank; whether the fast check decided the value;
    the sanitizer's findings, for a sanitized column)."""
    present = pc.invert(blank)
    if sanitize and column_type is not ColumnType.TEXT:  # not in the contract: per row
        return pc.if_else(present, values, None), blank, None
    if column_type is ColumnType.JSONB:
        return (
            *_per_distinct(pc.if_else(present, values, None), CONVERTERS[column_type]),
            None,
        )
    if column_type is ColumnType.TEXT:
        ok = pc.invert(pc.and_(present, pc.fill_null(pc.match_substring(values, "\x00"), False)))
        output = pc.if_else(present, values, None)
        findings = None
        if sanitize:
            candidates = pc.and_(ok, pc.and_(present, _matches(values, MAY_HOLD_FINDING)))
            sanitized, findings = _sanitized(pc.if_else(candidates, values, None))
            output = pc.if_else(candidates, sanitized, output)
        return output, ok, findings
    if column_type is ColumnType.UUID:
        valid = _matches(values, UUID_TEXT)
    elif column_type is ColumnType.TIMESTAMPTZ:
        matched = _matches(values, TIMESTAMP_TEXT)
        valid = pc.and_(matched, _valid_calendar_day(values, matched))
    elif column_type is ColumnType.NUMERIC:
        valid = _matches(values, NUMERIC_TEXT)
    else:
        valid = _matches(values, INTEGER_TEXT[column_type])
    return pc.if_else(present, values, None), pc.or_(blank, valid), None


def _dumped(transformer: Transformer, value: Any, encoding: str) -> str | None:
    """The text psycopg's COPY (text format) sends for ``value``."""
    if value is None:
        return None
    return bytes(transformer.get_dumper(value, PyFormat.TEXT).dump(value)).decode(encoding)


def type_chunk(
    table: Table,
    chunk: CsvChunk,
    lineage: tuple[int, str],
    transformer: Transformer,
    encoding: str,
) -> TypedChunk:
    """Type ``chunk`` for ``table``; ``lineage`` is (batch id, source file)."""
    header = chunk.header
    count = len(chunk.lines)
    columns = dict(zip(header, chunk.columns, strict=True))
    outputs: dict[str, pa.Array] = {}
    findings: dict[str, _Findings] = {}
    fast = _true(count)
    for column in table.columns:
        if column.name not in columns:  # absent from the file: NULL (never a required one)
            outputs[column.name] = pa.nulls(count, pa.string())
            continue
        values = columns[column.name]
        blank = _matches(values, BLANK)
        output, ok, column_findings = _fast_column(column.type, column.sanitize, values, blank)
        if column.required:
            ok = pc.and_(ok, pc.invert(blank))
        outputs[column.name] = output
        if column_findings is not None:
            findings[column.name] = column_findings
        fast = pc.and_(fast, ok)

    redactions: Counter[tuple[str, str]] = Counter()
    for name, column_findings in findings.items():  # the rows typed by the fast path
        column_findings.count(name, fast, redactions)

    rejected: list[tuple[int, str, str, str]] = [
        (row.line, *row.problem, row.original_text) for row in chunk.malformed
    ]
    keep = fast
    slow = pc.indices_nonzero(pc.invert(fast)).to_pylist()
    if slow:
        accepted_mask = [False] * count
        accepted: list[dict[str, Any]] = []
        for index in slow:
            fields = chunk.fields(index)
            typed, problems = convert_row(table, dict(zip(header, fields, strict=True)), redactions)
            if problems:
                field, reason = rejection_reason(problems)
                line = chunk.lines[index].as_py()
                rejected.append((line, field, reason, csv_text(fields)))
            else:
                accepted_mask[index] = True
                accepted.append(typed)
        if accepted:
            mask = pa.array(accepted_mask, pa.bool_())
            for name in table.column_names:
                texts = [_dumped(transformer, typed.get(name), encoding) for typed in accepted]
                outputs[name] = pc.replace_with_mask(
                    outputs[name], mask, pa.array(texts, pa.string())
                )
            keep = pc.or_(fast, mask)
    rejected.sort(key=lambda item: item[0])  # in line order, as the per-row path finds them

    good = pa.table(outputs).filter(keep)
    rows = good.num_rows
    batch_id, source_file = lineage
    lines = pc.filter(chunk.lines, keep)
    good = (
        good.append_column("_batch_id", pa.repeat(pa.scalar(batch_id, pa.int64()), rows))
        .append_column("_source_file", pa.repeat(pa.scalar(source_file, pa.string()), rows))
        .append_column("_source_line", lines)
    )
    buffer = io.BytesIO()
    if rows:
        pa_csv.write_csv(good, buffer, CSV_OPTIONS)
    return TypedChunk(buffer.getvalue(), rows, rejected, redactions)
