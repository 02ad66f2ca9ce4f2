"""The loader: COPY into raw, one transaction per file, bad rows kept with their reason."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.cli import main
from warehouse.ingest.loader import discover, load_file, load_paths
from warehouse.ingest.parsing import LandingFileError, landing_file_for
from warehouse.tables import format_table

ORG = "11111111-1111-4111-8111-111111111111"
USER = "22222222-2222-4222-8222-222222222222"
TASK_1 = "33333333-3333-4333-8333-333333333331"
TASK_2 = "33333333-3333-4333-8333-333333333332"

TASK_COLUMNS = [
    "id", "task_id", "user_id", "organization_id", "task_type", "task_description", "provider",
    "alternative_providers", "start_time", "end_time", "tokens_used", "cost_usd", "status",
    "error_message", "updated_at",
]  # fmt: skip


def task_row(**overrides: str) -> dict[str, str]:
    row = {
        "id": TASK_1,
        "task_id": "TASK-1",
        "user_id": USER,
        "organization_id": ORG,
        "task_type": "bug_fix",
        "task_description": "fix the flaky login test",
        "provider": "openai_codex",
        "alternative_providers": '["github_copilot"]',
        "start_time": "2026-03-01T10:00:00Z",
        "end_time": "2026-03-01T10:01:00Z",
        "tokens_used": "1200",
        "cost_usd": "0.012",
        "status": "completed",
        "error_message": "",
        "updated_at": "2026-03-01T10:01:00Z",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = TASK_COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def scalar(connection: psycopg.Connection, query: str, *params: object) -> object:
    return connection.execute(query, params).fetchone()[0]


def test_clean_file_loads_every_row_with_lineage(connection, tmp_path):
    path = write_csv(
        tmp_path / "task_executions.csv",
        [task_row(), task_row(id=TASK_2, task_id="TASK-2", status="running", end_time="")],
    )

    [result] = load_paths(connection, [path])

    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded", 2, 2, 0,
    )  # fmt: skip
    rows = connection.execute(
        "select id::text, end_time, tokens_used, cost_usd, alternative_providers, "
        "_batch_id, _source_file, _source_line from raw.task_executions order by _source_line"
    ).fetchall()
    assert [row[0] for row in rows] == [TASK_1, TASK_2]
    assert rows[1][1] is None  # empty CSV field is null
    assert rows[0][2] == 1200
    assert str(rows[0][3]) == "0.012"
    assert rows[0][4] == ["github_copilot"]
    assert {row[5] for row in rows} == {result.batch_id}
    assert [row[7] for row in rows] == [2, 3]  # line numbers count the header as line 1
    assert rows[0][6] == str(path)
    batch = connection.execute(
        "select table_name, status, rows_read, rows_loaded, rows_rejected, file_format "
        "from raw.load_batches"
    ).fetchone()
    assert batch == ("task_executions", "loaded", 2, 2, 0, "csv")


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"id": "not-a-uuid"}, "id", "not a UUID: not-a-uuid"),
        ({"start_time": "yesterday"}, "start_time", "not an ISO-8601 timestamp: yesterday"),
        ({"start_time": "2026-02-30T10:00:00Z"}, "start_time", "not an ISO-8601 timestamp"),
        ({"cost_usd": "12,5"}, "cost_usd", "not a number: 12,5"),
        ({"cost_usd": "NaN"}, "cost_usd", "not a finite number: NaN"),
        ({"tokens_used": "12.5"}, "tokens_used", "not an integer: 12.5"),
        ({"provider": ""}, "provider", "missing required field"),
        ({"updated_at": ""}, "updated_at", "missing required field"),
        ({"alternative_providers": "[github_copilot"}, "alternative_providers", "invalid JSON"),
    ],
)
def test_each_bad_row_kind_is_rejected_with_field_and_reason(
    connection, tmp_path, overrides, field, reason
):
    path = write_csv(
        tmp_path / "task_executions__bad.csv",
        [task_row(), task_row(**{"id": TASK_2, "task_id": "TASK-2", **overrides})],
    )

    [result] = load_paths(connection, [path])

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    rejected = connection.execute(
        "select table_name, source_file, source_line, field, reason, original_text "
        "from raw.rejected_rows"
    ).fetchone()
    assert rejected[:4] == ("task_executions", str(path), 3, field)
    assert rejected[4].startswith(reason)
    assert "TASK-2" in rejected[5]
    assert scalar(connection, "select count(*) from raw.task_executions") == 1


def test_a_row_with_several_bad_fields_names_the_first_and_lists_the_rest(connection, tmp_path):
    path = write_csv(
        tmp_path / "task_executions.csv",
        [task_row(id="nope", start_time="soon", tokens_used="many")],
    )

    load_paths(connection, [path])

    field, reason = connection.execute("select field, reason from raw.rejected_rows").fetchone()
    assert field == "id"
    assert reason == (
        "not a UUID: nope; also start_time: not an ISO-8601 timestamp: soon; "
        "tokens_used: not an integer: many"
    )


def test_csv_row_with_wrong_field_count_is_rejected(connection, tmp_path):
    path = write_csv(tmp_path / "task_executions.csv", [task_row()])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("only,three,fields\n")

    [result] = load_paths(connection, [path])

    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert connection.execute(
        "select source_line, field, reason from raw.rejected_rows"
    ).fetchone() == (3, "<row>", "expected 15 fields, found 3")


def test_jsonl_bad_line_is_rejected_and_the_rest_loads(connection, tmp_path):
    good = task_row()
    good["alternative_providers"] = ["github_copilot"]
    path = tmp_path / "task_executions.jsonl"
    path.write_text(json.dumps(good) + "\n" + '{"id": "broken",\n' + "[1, 2]\n", encoding="utf-8")

    [result] = load_paths(connection, [path])

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    rejected = connection.execute(
        "select source_line, field, reason from raw.rejected_rows order by source_line"
    ).fetchall()
    assert rejected[0][0:2] == (2, "<row>")
    assert rejected[0][2].startswith("invalid JSON")
    assert rejected[1] == (3, "<row>", "line is not a JSON object")


def test_free_text_is_sanitized_before_it_is_stored(connection, tmp_path):
    path = write_csv(
        tmp_path / "task_executions.csv",
        [
            task_row(
                task_description="ask alice@example.com about it",
                error_message="401 for key sk-abcdefghijklmnopqrstuvwx1234",
            ),
            task_row(id="bad", task_description="mail bob@example.org"),
        ],
    )

    load_paths(connection, [path])

    description, error = connection.execute(
        "select task_description, error_message from raw.task_executions"
    ).fetchone()
    assert description == "ask <email> about it"
    assert "sk-abcdef" not in error
    assert "<openai_key>" in error
    original = scalar(connection, "select original_text from raw.rejected_rows")
    assert "bob@example.org" not in original  # rejected text is sanitized as well


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,task_id,colour\n", "unknown column(s) colour"),
        ("id,task_id\n", "required column(s) user_id, organization_id"),
        ("", "empty file, no header row"),
    ],
)
def test_unreadable_file_is_an_error_naming_it_and_nothing_is_kept(
    connection, tmp_path, content, message
):
    path = tmp_path / "task_executions.csv"
    path.write_text(content, encoding="utf-8")

    [result] = load_paths(connection, [path])

    assert result.status == "failed"
    assert message in result.message
    assert result.message.startswith(f"{path}: ")
    assert scalar(connection, "select count(*) from raw.task_executions") == 0
    assert (
        connection.execute("select status, error_message from raw.load_batches").fetchone()[0]
        == "failed"
    )


def test_invalid_utf8_half_way_leaves_nothing(connection, tmp_path):
    path = write_csv(
        tmp_path / "task_executions.csv",
        [task_row(id=f"33333333-3333-4333-8333-{index:012d}") for index in range(2000)],
    )
    with open(path, "ab") as handle:
        handle.write(b"\xff\xfe broken bytes\n")

    with pytest.raises(LandingFileError, match="not valid UTF-8"):
        load_file(connection, landing_file_for(path))

    assert scalar(connection, "select count(*) from raw.task_executions") == 0
    assert scalar(connection, "select count(*) from raw.rejected_rows") == 0


def test_database_failure_mid_copy_rolls_back_the_whole_file(connection, tmp_path):
    """A real failure inside COPY (a trigger refusing row 1500) leaves no row of the file."""
    connection.execute(
        """
        create function raw.refuse_row() returns trigger language plpgsql as $$
        begin
            if new._source_line = 1500 then raise exception 'disk full (simulated)'; end if;
            return new;
        end $$;
        create trigger refuse_row before insert on raw.task_executions
        for each row execute function raw.refuse_row();
        """
    )
    rows = [task_row(id=f"33333333-3333-4333-8333-{index:012d}") for index in range(2000)]
    rows[10]["id"] = "bad"  # a rejected row that must not survive the rollback either
    path = write_csv(tmp_path / "task_executions.csv", rows)

    with pytest.raises(LandingFileError, match="disk full"):
        load_file(connection, landing_file_for(path))

    assert scalar(connection, "select count(*) from raw.task_executions") == 0
    assert scalar(connection, "select count(*) from raw.rejected_rows") == 0
    assert connection.execute("select status, rows_loaded from raw.load_batches").fetchall() == [
        ("failed", 0)
    ]


def test_reloading_a_file_is_skipped_unless_forced(connection, tmp_path):
    path = write_csv(tmp_path / "task_executions.csv", [task_row()])

    first = load_paths(connection, [path])
    again = load_paths(connection, [path])
    forced = load_paths(connection, [path], force=True)

    assert [r.status for r in (*first, *again, *forced)] == ["loaded", "skipped", "loaded"]
    assert "already loaded" in again[0].message
    assert scalar(connection, "select count(*) from raw.task_executions") == 2
    assert scalar(connection, "select count(*) from raw.load_batches where is_forced") == 1


def test_jsonl_and_parquet_load_the_same_rows_as_csv(connection, tmp_path):
    rows = [task_row(), task_row(id=TASK_2, task_id="TASK-2", cost_usd="", status="failed")]
    write_csv(tmp_path / "task_executions__a.csv", rows)
    with open(tmp_path / "task_executions__b.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({key: value or None for key, value in row.items()}) + "\n")
    table = pa.Table.from_pylist([{k: v or None for k, v in row.items()} for row in rows])
    pq.write_table(table, tmp_path / "task_executions__c.parquet")

    results = load_paths(connection, [tmp_path])

    assert [(r.rows_loaded, r.rows_rejected) for r in results] == [(2, 0)] * 3
    per_file = connection.execute(
        """
        select _source_file, array_agg(
            id::text || status || coalesce(cost_usd::text, '-') || start_time::text
            order by id
        )
        from raw.task_executions group by 1 order by 1
        """
    ).fetchall()
    assert per_file[0][1] == per_file[1][1] == per_file[2][1]


def test_discover_orders_reference_data_first_and_ignores_other_files(tmp_path):
    for name in ["task_executions__2.csv", "users.csv", "organizations.jsonl", "README.md"]:
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "_manifest.json").write_text("{}", encoding="utf-8")

    discovery = discover([tmp_path])

    assert [f.path.name for f in discovery.files] == [
        "organizations.jsonl", "users.csv", "task_executions__2.csv",
    ]  # fmt: skip
    assert sorted(p.name for p in discovery.ignored) == ["README.md", "_manifest.json"]


def test_cli_load_exits_non_zero_and_names_the_file(connection, tmp_path, capsys):
    bad = tmp_path / "task_executions.csv"
    bad.write_text("id,colour\n", encoding="utf-8")

    assert main(["load", str(bad)]) == 1
    assert str(bad) in capsys.readouterr().err

    (tmp_path / "good").mkdir()
    good = write_csv(tmp_path / "good" / "task_executions.csv", [task_row()])
    assert main(["load", str(good)]) == 0
    out = capsys.readouterr().out
    assert "task_executions.csv" in out
    assert "total (1 files)" in out


def test_cli_rejects_a_file_that_is_not_a_landing_file(connection, tmp_path, capsys):
    other = tmp_path / "invoices.csv"
    other.write_text("id\n", encoding="utf-8")

    assert main(["load", str(other)]) == 1
    assert "invoices.csv: not a landing file" in capsys.readouterr().err


def test_a_failing_file_does_not_stop_the_others(connection, tmp_path, capsys):
    write_csv(tmp_path / "task_executions__1.csv", [task_row()])
    (tmp_path / "task_executions__2.csv").write_text("id,colour\n", encoding="utf-8")
    write_csv(tmp_path / "task_executions__3.csv", [task_row(id=TASK_2, task_id="TASK-2")])

    assert main(["load", str(tmp_path)]) == 1

    captured = capsys.readouterr()
    assert "task_executions__2.csv: unknown column(s) colour" in captured.err
    assert "2 loaded" in captured.out
    assert scalar(connection, "select count(*) from raw.task_executions") == 2
    assert connection.execute(
        "select status, count(*) from raw.load_batches group by 1 order by 1"
    ).fetchall() == [("failed", 1), ("loaded", 2)]


def test_jsonl_unknown_key_rejects_the_row(connection, tmp_path):
    row = {**task_row(), "colour": "blue"}
    (tmp_path / "task_executions.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")

    [result] = load_paths(connection, [tmp_path / "task_executions.jsonl"])

    assert (result.rows_loaded, result.rows_rejected) == (0, 1)
    assert connection.execute("select field, reason from raw.rejected_rows").fetchone() == (
        "colour",
        "unknown column for table task_executions",
    )


def test_format_table_aligns_columns_and_sets_the_total_apart():
    text = format_table(
        ("file", "rows", "note"),
        [("a.csv", 5, None), ("bb.csv", 1200, "late")],
        right=("rows",),
        total=("total", 1205, ""),
        indent="  ",
    )

    assert text.splitlines() == [
        "  file    rows  note",
        "  ------  ----  ----",
        "  a.csv      5  -",
        "  bb.csv  1200  late",
        "  ------  ----  ----",
        "  total   1205",
    ]
    with pytest.raises(ValueError, match="a row has 2 cells for 3 columns"):
        format_table(("file", "rows", "note"), [("a.csv", 5)])


EXPECTED_NAMES_LINE = (
    "expected names: <table>.<ext> or <table>__<anything>.<ext>, with <table> one of "
    "organizations, teams, users, provider_pricing, task_executions, routing_decisions, budgets, "
    "provider_invoices and <ext> one of csv, jsonl, parquet"
)


def landing_with_a_misnamed_file(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A good task file, a misnamed organizations file, a file still being written (hidden),
    a file in a hidden folder and the generator's manifest."""
    landing = tmp_path / "landing"
    (landing / ".tmp").mkdir(parents=True)
    good = write_csv(landing / "task_executions.csv", [task_row()])
    misnamed = write_csv(landing / "organisation.csv", [{"id": ORG, "name": "Org"}], ["id", "name"])
    (landing / ".part-users.csv").write_text("id\n", encoding="utf-8")
    (landing / ".tmp" / "notes.txt").write_text("scratch\n", encoding="utf-8")
    (landing / "_manifest.json").write_text("{}", encoding="utf-8")
    return landing, good, misnamed


def test_cli_load_lists_unrecognized_files_and_loads_nothing(connection, tmp_path, capsys):
    landing, _, misnamed = landing_with_a_misnamed_file(tmp_path)

    assert main(["load", str(landing)]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "error: 1 file not recognized, nothing was loaded:",
        f"  {misnamed}: not a landing file: no table named 'organisation' "
        "(did you mean organizations?)",
        EXPECTED_NAMES_LINE,
        "rename or remove them, or pass --ignore-unknown to load the other files anyway",
    ]
    assert scalar(connection, "select count(*) from raw.load_batches") == 0


def test_cli_load_ignore_unknown_loads_the_rest_and_says_what_it_ignored(
    connection, tmp_path, capsys
):
    landing, good, misnamed = landing_with_a_misnamed_file(tmp_path)

    assert main(["load", "--ignore-unknown", str(landing)]) == 0

    captured = capsys.readouterr()
    progress, *warning = captured.err.splitlines()
    assert progress.startswith("[1/1] task_executions.csv: 1 row loaded, 0 rejected (")
    assert warning == [
        "warning: ignored 1 unrecognized file (--ignore-unknown):",
        f"  {misnamed}: not a landing file: no table named 'organisation' "
        "(did you mean organizations?)",
    ]
    assert "total (1 files)" in captured.out
    assert connection.execute(
        "select table_name, source_file, status, rows_loaded from raw.load_batches"
    ).fetchall() == [("task_executions", str(good), "loaded", 1)]
    assert scalar(connection, "select count(*) from raw.organizations") == 0


def test_cli_load_names_every_kind_of_unrecognized_file(connection, tmp_path, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ["users.txt", "README", "_users.csv", "organizations.csv.gz"]:
        (landing / name).write_text("id\n", encoding="utf-8")

    assert main(["load", str(landing)]) == 1

    assert capsys.readouterr().err.splitlines()[:5] == [
        "error: 4 files not recognized, nothing was loaded:",
        f"  {landing / 'README'}: not a landing file: no extension; "
        "expected one of .csv, .jsonl, .parquet",
        f"  {landing / '_users.csv'}: not a landing file: no table named '_users' "
        "(did you mean users?)",
        f"  {landing / 'organizations.csv.gz'}: not a landing file: extension .csv.gz; "
        "expected one of .csv, .jsonl, .parquet",
        f"  {landing / 'users.txt'}: not a landing file: extension .txt; "
        "expected one of .csv, .jsonl, .parquet",
    ]


def test_cli_load_ignores_hidden_files_and_the_manifest_silently(connection, tmp_path, capsys):
    landing, good, misnamed = landing_with_a_misnamed_file(tmp_path)
    good.unlink()
    misnamed.unlink()

    assert main(["load", str(landing)]) == 0

    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[-1].split() == [
        "total", "(0", "files)", "0", "loaded", "0", "0", "0", "0.00",
    ]  # fmt: skip
    assert scalar(connection, "select count(*) from raw.load_batches") == 0
