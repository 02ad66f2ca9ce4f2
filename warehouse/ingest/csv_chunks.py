"""Reading a CSV landing file in chunks of columns, exactly as the per-row reader reads it.

The per-row reader (``parsing._read_csv``) is Python's ``csv.reader(strict=True)`` over the file
decoded as ``utf-8-sig``: it defines the fields, the line numbers, which lines are skipped and
which files fail. ``read_csv_chunks`` gives the same records as Arrow columns, a chunk at a time:

- Where it can prove the result identical, pyarrow's CSV parser reads a block of lines: the
  header is one line without quotes or carriage returns, the block has no carriage return, as
  many rows as newlines, every field at most ``csv.field_size_limit()`` characters, and the
  block's bytes are exactly the parsed fields written back (a field quoted, its quotes doubled,
  when it holds a comma or a quote; otherwise as it is). On such bytes Python's reader returns
  exactly those fields, one record per line, so the line of a row is its position.
- From the first block where the proof fails (blank lines, fields spanning lines, optional
  quotes, ``\\r\\n`` line ends, a wrong field count, invalid UTF-8, no newline at the end ...),
  Python's reader takes over: it reads the file again from its start, so that its line numbers
  and its error messages are the per-row reader's, skipping the rows already read.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from warehouse.ingest.parsing import (
    LandingFile,
    LandingFileError,
    SourceRow,
    _check_columns,
    _csv_header,
    _open_text,
    _wrong_field_count,
    csv_read_errors,
)

BLOCK_BYTES = 16 << 20  # bytes of lines pyarrow parses at a time
NEEDS_QUOTES = r'[,"\r\n]'


@dataclass(frozen=True)
class CsvChunk:
    """Consecutive records of a CSV file: those with the header's field count as one string
    array per header column, with the line each starts on; the others already rejected."""

    header: list[str]
    lines: pa.Array  # int64, one per well-formed record
    columns: list[pa.Array]  # string, in header order
    malformed: list[SourceRow]

    @property
    def rows_read(self) -> int:
        return len(self.lines) + len(self.malformed)

    def fields(self, index: int) -> list[str]:
        """The fields of well-formed record ``index``, as the per-row reader returns them."""
        return [column[index].as_py() for column in self.columns]


def read_csv_chunks(landing_file: LandingFile, rows_per_chunk: int) -> Iterator[CsvChunk]:
    """The records of a CSV landing file in chunks of at most ``rows_per_chunk`` well-formed
    records (plus the malformed ones among them), in file order.

    Same header check, records, line numbers, skipped lines and errors as ``read_rows``; the
    original text of a record is not built here (``csv_text`` builds it for the few rejected).
    """
    resume_line = yield from _pyarrow_chunks(landing_file, rows_per_chunk)
    if resume_line is not None:
        yield from _python_chunks(landing_file, rows_per_chunk, resume_line)


def _pyarrow_chunks(
    landing_file: LandingFile, rows_per_chunk: int
) -> Generator[CsvChunk, None, int | None]:
    """Chunks pyarrow parsed and the proof holds for; then the line Python's reader must
    resume from (None: the whole file was read)."""
    line = 2
    try:
        handle = open(landing_file.path, "rb")  # noqa: SIM115 (closed below)
    except OSError:
        return 1  # Python's reader reports it
    with handle:
        limit = csv.field_size_limit()
        first = handle.readline()
        if not first.endswith(b"\n") or b'"' in first or b"\r" in first:
            return 1
        try:
            text = first[:-1].decode("utf-8-sig")
        except UnicodeDecodeError:
            return 1
        fields = text.split(",")
        if not text or max(map(len, fields)) > limit:  # an empty line is no header to Python
            return 1
        header = [column.strip() for column in fields]
        try:
            _check_columns(landing_file, header)
        except LandingFileError:  # Python's reader reports it (or a decoding error before it)
            return 1
        width = len(header)
        if width < 2:  # a line of one empty field would be an empty line to Python
            return 1
        names = [f"f{index}" for index in range(width)]
        parse_options = pa_csv.ParseOptions(
            delimiter=",",
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        convert_options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        pending = b""
        while True:
            data = handle.read(BLOCK_BYTES)
            if not data and not pending:
                return None
            block = pending + data
            if not data:  # a last line without a newline reads as if it had one
                block += b"\n"
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block
                return line
            body, pending = block[:cut], block[cut:]
            rows = body.count(b"\n")
            if b"\r" in body:
                return line
            try:
                table = pa_csv.read_csv(
                    pa.BufferReader(body),
                    # One block: the columns come out contiguous, as the check needs them.
                    read_options=pa_csv.ReadOptions(column_names=names, block_size=len(body) + 1),
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
            except pa.ArrowException:
                return line
            columns = [
                column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
                for column in table.columns
            ]
            if table.num_rows != rows or not _writes_back_to(columns, body, limit):
                return line
            for start in range(0, rows, rows_per_chunk):
                count = min(rows_per_chunk, rows - start)
                yield CsvChunk(
                    header,
                    pa.array(range(line + start, line + start + count), pa.int64()),
                    [column.slice(start, count) for column in columns],
                    [],
                )
            line += rows


def _writes_back_to(columns: list[pa.Array], body: bytes, limit: int) -> bool:
    """Are ``body``'s bytes exactly the rows of ``columns`` written back, each line ending in
    a newline, a field quoted (quotes doubled) when it holds a comma or a quote and bare
    otherwise; and is every field at most ``limit`` characters? (No field holds a CR or LF:
    the caller checked that ``body`` has no CR and as many rows as newlines.)"""
    written = []
    for column in columns:
        if len(column) == 0:
            return False
        longest = pc.max(pc.binary_length(column)).as_py()
        if longest > limit and pc.max(pc.utf8_length(column)).as_py() > limit:
            return False
        written.append(_written_back(column))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*written, ","), "", "\n")
    start, end, data = _string_data(lines)
    return end - start == len(body) and data.slice(start, end - start).equals(pa.py_buffer(body))


def _written_back(column: pa.Array) -> pa.Array:
    """The column's fields as they are written in CSV: quoted where needed."""
    start, end, data = _string_data(column)
    text = data.slice(start, end - start).to_pybytes() if data is not None else b""
    if b"," not in text and b'"' not in text:  # the usual case: no field needs quotes
        return column
    needs_quotes = pc.or_(pc.match_substring(column, ","), pc.match_substring(column, '"'))
    chosen = pc.filter(column, needs_quotes)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(chosen, '"', '""'), '"', "")
    return pc.replace_with_mask(column, needs_quotes, quoted)


def _string_data(array: pa.Array) -> tuple[int, int, pa.Buffer | None]:
    """Where a string array's characters are: (first byte, end byte, data buffer)."""
    _, offsets_buffer, data = array.buffers()
    offsets = pa.Array.from_buffers(
        pa.int32(), len(array) + 1, [None, offsets_buffer], offset=array.offset
    )
    return offsets[0].as_py(), offsets[-1].as_py(), data


def _python_chunks(
    landing_file: LandingFile, rows_per_chunk: int, resume_line: int
) -> Iterator[CsvChunk]:
    """Python's reader over the whole file, yielding the records from ``resume_line`` on."""
    with _open_text(landing_file) as handle:
        reader = csv.reader(handle, strict=True)
        with csv_read_errors(landing_file, reader):
            header = _csv_header(landing_file, reader)
            width = len(header)  # at least 1: every table has required columns
            line = reader.line_num
            lines: list[int] = []
            records: list[list[str]] = []
            malformed: list[SourceRow] = []
            for fields in reader:
                line_start, line = line + 1, reader.line_num
                if line_start < resume_line:
                    continue
                if len(fields) == width:
                    lines.append(line_start)
                    records.append(fields)
                    if len(records) == rows_per_chunk:
                        yield _python_chunk(header, lines, records, malformed)
                        lines, records, malformed = [], [], []
                elif fields:  # an empty list is an empty line: skipped
                    malformed.append(_wrong_field_count(line_start, fields, width))
            if records or malformed:
                yield _python_chunk(header, lines, records, malformed)


def _python_chunk(
    header: list[str], lines: list[int], records: list[list[str]], malformed: list[SourceRow]
) -> CsvChunk:
    columns = zip(*records, strict=True) if records else ([] for _ in header)
    return CsvChunk(
        header,
        pa.array(lines, pa.int64()),
        [pa.array(column, pa.string()) for column in columns],
        malformed,
    )
