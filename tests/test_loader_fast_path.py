"""The column-wise CSV path stores exactly what the per-row path stores: the same raw rows
(every column, lineage included), the same rejections, the same counts, the same failures."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from warehouse.ingest import columnar, csv_chunks, loader
from warehouse.ingest.columnar import MAY_HOLD_FINDING, PYTHON_WHITESPACE, TIMESTAMP_TEXT
from warehouse.ingest.contract import TABLES
from warehouse.ingest.loader import load_paths
from warehouse.ingest.parsing import convert_row
from warehouse.privacy.sanitize import _may_contain_finding

TASK = TABLES["task_executions"]
ORG = "11111111-1111-4111-8111-111111111111"
USER = "22222222-2222-4222-8222-222222222222"
# The header: shuffled, padded with spaces, without code_language and routing_reason.
HEADER = [
    " status", "id", "task_id ", "user_id", "organization_id", "task_type", "task_description",
    "provider", "alternative_providers", "start_time", "end_time", "duration_ms",
    "tokens_used", "cost_usd", "baseline_cost_usd", "savings_usd", "error_message",
    "created_at", "updated_at",
]  # fmt: skip


def task(number: int, **overrides: str) -> list[str]:
    row = {
        "status": "completed",
        "id": f"33333333-3333-4333-8333-{number:012d}",
        "task_id": f"TASK-{number}",
        "user_id": USER,
        "organization_id": ORG,
        "task_type": "bug_fix",
        "task_description": "fix the flaky login test",
        "provider": "openai_codex",
        "alternative_providers": '["github_copilot"]',
        "start_time": "2026-03-01T10:00:00Z",
        "end_time": "2026-03-01T10:01:00Z",
        "duration_ms": "60000",
        "tokens_used": "1200",
        "cost_usd": "0.012",
        "baseline_cost_usd": "0.020",
        "savings_usd": "0.008",
        "error_message": "",
        "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-01T10:01:00Z",
    }
    row.update(overrides)
    return [row[name.strip()] for name in HEADER]


# (row, rejected field or None when the row loads)
TRICKY_ROWS: list[tuple[list[str], str | None]] = [
    (task(1), None),
    (task(2, task_description='fix "login", then\nretry,\r\nagain'), None),  # 3 lines
    (task(3, id=" 33333333-3333-4333-8333-000000000003 ", tokens_used=" 12 "), None),
    (task(4, id="ABCDEF01-2345-4789-ABCD-EF0123456789"), None),
    (task(5, id="{abcdef01-2345-4789-abcd-ef0123456789}"), None),
    (task(6, id="abcdef0123454789abcdef0123456789"), None),
    (task(7, start_time="2026-03-01 10:00:00+05:30", end_time="2026-03-01T10:00:00.123456Z"), None),
    (task(8, start_time="2026-03-01T10:00:00.1234567Z", end_time="2026-03-01"), None),
    (task(9, start_time="2026-03-01T10:00", end_time="20260301T100000"), None),
    (task(10, start_time="2024-02-29T00:00:00-03", end_time="2026-03-01T10:00:00+14:00"), None),
    (task(11, start_time=" 2026-03-01T10:00:00Z ", created_at="2026-03-01T10:00:00+0100"), None),
    (task(12, start_time="2026-02-29T00:00:00Z"), "start_time"),
    (task(13, start_time="2026-02-30T10:00:00Z"), "start_time"),
    (task(14, end_time="2026-03-01T24:00:00Z"), "end_time"),
    (task(15, tokens_used="9223372036854775807", duration_ms="+42"), None),
    (task(16, tokens_used="9223372036854775808"), "tokens_used"),
    (task(17, tokens_used="-0", duration_ms="007"), None),
    (task(18, tokens_used="\u0661\u0662"), None),  # Arabic-Indic digits: int() takes them
    (task(19, tokens_used="1_000"), "tokens_used"),
    (task(20, cost_usd="NaN"), "cost_usd"),
    (task(21, cost_usd="Infinity"), "cost_usd"),
    (task(22, cost_usd="1e3", baseline_cost_usd="1_000.5", savings_usd=".5"), None),
    (task(23, cost_usd="0.0000001", baseline_cost_usd="-0.00", savings_usd="+1.50"), None),
    (task(24, cost_usd="12,5"), "cost_usd"),
    (task(25, alternative_providers='[1e2, 1.10, {"b": 1, "a": 2, "a": 3}]'), None),
    (task(26, alternative_providers='  "caf\\u00e9"  '), None),
    (task(27, alternative_providers="[1,"), "alternative_providers"),
    (
        task(28, task_description="mail alice@example.com", error_message="BEARER ab12cd34ef56"),
        None,
    ),
    (task(29, task_description="ask ada@example.org or call +44 20 7946 0958"), None),
    (task(32, provider="   "), "provider"),
    (task(33, provider="\xa0", end_time="\u3000", error_message="\u2028"), "provider"),
    (task(34, end_time=" \t", error_message="\xa0", alternative_providers=" "), None),
    (task(35, id="nope", start_time="soon", tokens_used="many"), "id"),
    (task(36, task_description="mail bob@example.org", updated_at=""), "updated_at"),
    (task(37, task_description="prose only, no finding", error_message="ok"), None),
]


def tricky_csv(path: Path) -> Path:
    """The rows above with a BOM, blank lines, CRLF line ends and rows of the wrong width."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for index, (row, _) in enumerate(TRICKY_ROWS):
        writer.writerow(row)
        if index == 3:
            buffer.write("\n\r\n")  # two empty lines
        if index == 5:
            buffer.write("only,three,fields\r\n")
        if index == 20:
            writer.writerow([*task(99), "one too many"])
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def csv_line(fields: list[str], quoting: int = csv.QUOTE_MINIMAL) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=quoting).writerow(fields)
    return buffer.getvalue()


def raw_rows(connection: psycopg.Connection, batch_id: int) -> list[tuple]:
    columns = ", ".join(f"{name}::text" for name in TASK.column_names)
    return connection.execute(
        f"select {columns}, _source_file, _source_line from raw.task_executions "
        "where _batch_id = %s order by _source_line",
        (batch_id,),
    ).fetchall()


def rejections(connection: psycopg.Connection, batch_id: int) -> list[tuple]:
    return connection.execute(
        "select table_name, source_file, source_line, field, reason, original_text "
        "from raw.rejected_rows where batch_id = %s order by rejected_row_id",
        (batch_id,),
    ).fetchall()


def batch(connection: psycopg.Connection, batch_id: int) -> tuple:
    return connection.execute(
        "select table_name, source_file, file_format, file_checksum, status, "
        "rows_read, rows_loaded, rows_rejected from raw.load_batches where batch_id = %s",
        (batch_id,),
    ).fetchone()


# The rows some field of which is outside the column-wise checks (they go through convert_row).
PER_ROW_TASKS = {3, 5, 6, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 24, 27, 32, 33, 35, 36}


@pytest.mark.parametrize("chunk_rows", [7, 20_000])
def test_fast_path_stores_exactly_what_the_per_row_path_stores(
    connection, tmp_path, monkeypatch, chunk_rows
):
    monkeypatch.setattr(loader, "CSV_CHUNK_ROWS", chunk_rows)  # 7: many chunk boundaries
    path = tricky_csv(tmp_path / "task_executions.csv")
    typed_per_row: list[str] = []

    def spy(table, values, redactions=None):
        typed_per_row.append(values["task_id"])
        return convert_row(table, values, redactions)

    [per_row] = load_paths(connection, [path], per_row=True)
    monkeypatch.setattr(columnar, "convert_row", spy)
    [fast] = load_paths(connection, [path], force=True)

    assert sorted(typed_per_row) == sorted(f"TASK-{number}" for number in PER_ROW_TASKS)

    rejected_tasks = sum(1 for _, field in TRICKY_ROWS if field is not None)
    assert (per_row.rows_read, per_row.rows_loaded, per_row.rows_rejected) == (
        len(TRICKY_ROWS) + 2, len(TRICKY_ROWS) - rejected_tasks, rejected_tasks + 2,
    )  # fmt: skip
    assert (fast.status, fast.rows_read, fast.rows_loaded, fast.rows_rejected) == (
        "loaded", per_row.rows_read, per_row.rows_loaded, per_row.rows_rejected,
    )  # fmt: skip
    assert raw_rows(connection, fast.batch_id) == raw_rows(connection, per_row.batch_id)
    assert rejections(connection, fast.batch_id) == rejections(connection, per_row.batch_id)
    assert batch(connection, fast.batch_id) == batch(connection, per_row.batch_id)

    # A few of the stored values, by hand: line numbers count the BOM'd header as line 1, the
    # three-line description, the two empty lines and the wrong-width rows.
    stored = {row[1]: row for row in raw_rows(connection, fast.batch_id)}
    assert [row[-1] for row in raw_rows(connection, fast.batch_id)][:7] == [2, 3, 6, 7, 10, 11, 13]
    assert stored["TASK-2"][5] == 'fix "login", then\nretry,\r\nagain'
    assert stored["TASK-4"][0] == "abcdef01-2345-4789-abcd-ef0123456789"
    assert stored["TASK-7"][10] == "2026-03-01 04:30:00+00"
    assert stored["TASK-8"][10] == "2026-03-01 10:00:00.123456+00"
    assert stored["TASK-18"][13] == "12"
    assert stored["TASK-22"][14:17] == ("1000", "1000.5", "0.5")
    assert stored["TASK-23"][14:17] == ("0.0000001", "0.00", "1.50")
    assert stored["TASK-25"][9] == '[100.0, 1.1, {"a": 3, "b": 1}]'
    assert stored["TASK-28"][5] == "mail <email>"
    assert stored["TASK-28"][18] == "BEARER <token>"
    assert (stored["TASK-34"][11], stored["TASK-34"][18]) == (None, None)
    rejected = rejections(connection, fast.batch_id)
    assert [(line, field) for _, _, line, field, _, _ in rejected] == [
        (12, "<row>"), (18, "start_time"), (19, "start_time"), (20, "end_time"),
        (22, "tokens_used"), (25, "tokens_used"), (26, "cost_usd"), (27, "cost_usd"),
        (28, "<row>"), (31, "cost_usd"), (34, "alternative_providers"), (37, "provider"),
        (38, "provider"), (40, "id"), (41, "updated_at"),
    ]  # fmt: skip
    assert "bob@example.org" not in rejected[-1][5]  # rejected text is sanitized as well


@pytest.mark.parametrize(
    "content",
    [
        # A NUL character rejects its row, and the rejected row's original text (kept with the
        # NUL) is then refused by the database: the whole file fails, on both paths.
        b"id,task_id,user_id,organization_id,task_type,provider,start_time,status,updated_at\n"
        b"a,b\x00,c,d,e,f,g,h,i\n",
        b"id,task_id\n",  # required columns missing
        b"",  # no header
        b"id,colour\n\xff\n",  # an unknown column, and bad UTF-8 the decoder meets first
        b"id,task_id,user_id,organization_id,task_type,provider,start_time,status,updated_at\n"
        b'"a"b,c,d,e,f,g,h,i,j\n',  # malformed CSV (strict): the whole file fails
        b"id,task_id,user_id,organization_id,task_type,provider,start_time,status,updated_at\n"
        b"a,b,c,d,e,f,g,h,i\n\xff\xfe\n",  # invalid UTF-8
        b"id,task_id,user_id,organization_id,task_type,provider,start_time,status,updated_at\n"
        b"a,b,c,d,e,f,g,h,\xed\xa0\x80\n",  # a UTF-8 encoded surrogate: not UTF-8 either
        b"id,task_id,user_id,organization_id,task_type,provider,start_time,status,updated_at\n"
        b'"a,b\n',  # unexpected end of data inside quotes
    ],
)
def test_fast_path_fails_a_file_with_the_per_row_message(connection, tmp_path, content):
    path = tmp_path / "task_executions.csv"
    path.write_bytes(content)

    [per_row] = load_paths(connection, [path], per_row=True)
    [fast] = load_paths(connection, [path])

    assert per_row.status == fast.status == "failed"
    assert fast.message == per_row.message
    assert connection.execute(
        "select count(*) from raw.load_batches where status = 'failed'"
    ).fetchone() == (2,)


def test_python_whitespace_is_what_str_strip_removes():
    everything = map(chr, range(sys.maxunicode + 1))
    assert "".join(character for character in everything if character.isspace()) == (
        PYTHON_WHITESPACE
    )


def test_only_ascii_letters_lower_case_to_the_letters_of_bearer():
    """So a case-insensitive match of "bearer" finds every text whose lower() holds it."""
    letters = set("bear")
    assert {
        character
        for character in map(chr, range(sys.maxunicode + 1))
        if letters & set(character.lower())
    } == set("bearBEAR")


def test_the_finding_pattern_matches_whenever_the_sanitizer_looks_closer():
    texts = [
        "plain prose", "x@y", "a:b", "a/b", "C:\\x", "~me", "+1", "7", "eyJhbGci", "sk-x", "xoxb",
        "ghp_", "AKIAX", "ASIAX", "Bearer x", "BEARER", "bEaReR", "no findings here",
    ]  # fmt: skip
    matched = pc.match_substring_regex(pa.array(texts), MAY_HOLD_FINDING).to_pylist()
    for text, match in zip(texts, matched, strict=True):
        assert match or not _may_contain_finding(text), text


def test_every_fast_timestamp_is_an_iso_timestamp_to_python():
    from datetime import datetime

    samples = [
        "2026-03-01", "2026-03-01T10:00", "2026-03-01 10:00:59", "2026-03-01T10:00:00.5",
        "2026-03-01T10:00:00.123456Z", "2026-03-01T10:00+05", "2026-03-01T10:00:00-0330",
        "2999-12-31T23:59:59+14:59", "1000-01-01 00:00:00-00:00",
    ]  # fmt: skip
    matched = pc.match_substring_regex(pa.array(samples), TIMESTAMP_TEXT).to_pylist()
    assert matched == [True] * len(samples)
    for sample in samples:
        datetime.fromisoformat(sample)


def one_line_csv(path: Path, tail: str = "\n") -> Path:
    """The rows above that fit on one line, quoted only where needed, with a BOM: a file
    pyarrow's parser may read (see csv_chunks). ``tail``: what follows the last row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row, _ in TRICKY_ROWS:
        if not any("\n" in field or "\r" in field for field in row):
            writer.writerow(row)
    text = buffer.getvalue()[:-1] + tail
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path


def python_resumes(monkeypatch) -> list[int]:
    """Spy: the lines from which Python's reader took over, one per file read column-wise."""
    resumed: list[int] = []
    python_chunks = csv_chunks._python_chunks

    def spy(landing_file, rows_per_chunk, resume_line):
        resumed.append(resume_line)
        return python_chunks(landing_file, rows_per_chunk, resume_line)

    monkeypatch.setattr(csv_chunks, "_python_chunks", spy)
    return resumed


def assert_same_load(connection: psycopg.Connection, path: Path) -> tuple:
    [per_row] = load_paths(connection, [path], per_row=True)
    [fast] = load_paths(connection, [path], force=True)
    assert (fast.status, fast.rows_read, fast.rows_loaded, fast.rows_rejected) == (
        "loaded", per_row.rows_read, per_row.rows_loaded, per_row.rows_rejected,
    )  # fmt: skip
    assert raw_rows(connection, fast.batch_id) == raw_rows(connection, per_row.batch_id)
    assert rejections(connection, fast.batch_id) == rejections(connection, per_row.batch_id)
    return per_row, fast


@pytest.mark.parametrize("tail", ["\n", ""])
def test_a_one_line_per_row_file_is_parsed_by_pyarrow_with_the_same_result(
    connection, tmp_path, monkeypatch, tail
):
    path = one_line_csv(tmp_path / "task_executions.csv", tail)
    resumed = python_resumes(monkeypatch)

    per_row, _ = assert_same_load(connection, path)

    assert resumed == []  # pyarrow read every line
    assert (per_row.rows_read, per_row.rows_loaded, per_row.rows_rejected) == (34, 21, 13)


@pytest.mark.parametrize(
    ("tail", "resume_line"),
    [
        ("\n\n" + ",".join(task(40)) + "\n", 36),  # an empty line
        ("\n" + csv_line(task(41, task_description="two\nlines")), 36),  # a field spanning lines
        ("\n" + csv_line(task(42), csv.QUOTE_ALL), 36),  # needless quotes
        ("\r\n" + ",".join(task(43)) + "\r\n", 35),  # CRLF line ends
        ("\nonly,three,fields\n", 36),  # a wrong field count
    ],
)
def test_python_takes_over_where_the_pyarrow_proof_fails_and_the_result_is_the_same(
    connection, tmp_path, monkeypatch, tail, resume_line
):
    monkeypatch.setattr(csv_chunks, "BLOCK_BYTES", 1500)  # several blocks read by pyarrow
    path = one_line_csv(tmp_path / "task_executions.csv", tail)
    resumed = python_resumes(monkeypatch)

    assert_same_load(connection, path)

    assert len(resumed) == 1
    assert 2 < resumed[0] <= resume_line  # pyarrow read the blocks before it
