"""The loader counts what the sanitizer removed, per batch, column and kind (raw.redaction_counts),
and monitoring.redactions_daily adds the counts up per UTC day of load."""

from __future__ import annotations

import json
from datetime import date

import psycopg

from tests.test_loader import TASK_2, task_row, write_csv
from warehouse.ingest.loader import load_paths

EC_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oQfuz8W2ZPaA\n"
    "-----END EC PRIVATE KEY-----"
)
DESCRIPTION = "deploy with password=hunter2 and AKIAIOSFODNN7EXAMPLE, ask alice@example.com"


def rows_with_secrets() -> list[dict[str, str]]:
    return [
        # secret_assignment, aws_access_key and email in the description; bearer_token and
        # email in the error message
        task_row(
            task_description=DESCRIPTION,
            error_message="401: Bearer abc123DEF456ghi789 rejected for bob@example.org",
            status="failed",
        ),
        # the same description again (the column-wise path sanitizes it once: it counts twice)
        task_row(id=TASK_2, task_id="TASK-2", task_description=DESCRIPTION),
        # a key over several lines (the CSV field spans lines)
        task_row(id=TASK_2, task_id="TASK-2", task_description=f"key was {EC_KEY} oops"),
        # typed row by row (" 1200 ": outside the column-wise checks), stored
        task_row(
            task_description="push with ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            tokens_used=" 1200 ",
        ),
        # refused (bad id): its text is stored sanitized in raw.rejected_rows, not counted for
        # task_executions
        task_row(id="bad", task_description="mail carol@example.org password=letmein1"),
        task_row(task_description="fix the password reset flow", error_message="exit 1"),
    ]


EXPECTED = [  # (table, column, kind, redactions) of one load of rows_with_secrets()
    ("rejected_rows", "original_text", "email", 1),
    ("rejected_rows", "original_text", "secret_assignment", 1),
    ("task_executions", "error_message", "bearer_token", 1),
    ("task_executions", "error_message", "email", 1),
    ("task_executions", "task_description", "aws_access_key", 2),
    ("task_executions", "task_description", "email", 2),
    ("task_executions", "task_description", "github_token", 1),
    ("task_executions", "task_description", "private_key", 1),
    ("task_executions", "task_description", "secret_assignment", 2),
]


def counts(connection: psycopg.Connection, batch_id: int) -> list[tuple]:
    return connection.execute(
        "select table_name, column_name, kind, redactions from raw.redaction_counts "
        "where batch_id = %s order by 1, 2, 3",
        (batch_id,),
    ).fetchall()


def test_each_load_records_its_redactions_per_column_and_kind(connection, tmp_path):
    path = write_csv(tmp_path / "task_executions.csv", rows_with_secrets())

    [fast] = load_paths(connection, [path])
    [per_row] = load_paths(connection, [path], force=True, per_row=True)

    assert (fast.rows_loaded, fast.rows_rejected, fast.redactions) == (5, 1, 12)
    assert counts(connection, fast.batch_id) == EXPECTED
    assert counts(connection, per_row.batch_id) == EXPECTED  # both paths count alike
    stored = connection.execute(
        "select task_description from raw.task_executions where _batch_id = %s "
        "order by _source_line",
        (fast.batch_id,),
    ).fetchall()
    assert stored[0] == ("deploy with password=<secret> and <aws_key>, ask <email>",)
    assert stored[2] == ("key was <private_key> oops",)


def test_a_clean_file_records_no_redaction(connection, tmp_path):
    path = write_csv(tmp_path / "task_executions.csv", [task_row()])

    [result] = load_paths(connection, [path])

    assert result.rows_loaded == 1
    assert counts(connection, result.batch_id) == []


def test_a_failed_load_keeps_no_count(connection, tmp_path):
    path = tmp_path / "task_executions.jsonl"
    row = task_row(task_description="ask alice@example.com")
    path.write_bytes(json.dumps(row).encode() + b"\n\xff\xfe not UTF-8\n")

    [result] = load_paths(connection, [path])

    assert result.status == "failed"
    assert connection.execute("select count(*) from raw.redaction_counts").fetchone() == (0,)


def test_redactions_daily_adds_up_each_utc_day_of_load(connection, dbt, tmp_path):
    path = write_csv(tmp_path / "task_executions.csv", rows_with_secrets())
    [first] = load_paths(connection, [path])
    [second] = load_paths(connection, [path], force=True)
    jsonl = tmp_path / "task_executions__late.jsonl"
    jsonl.write_text(
        json.dumps(task_row(task_description="ask dave@example.net or erin@example.net")) + "\n",
        encoding="utf-8",
    )
    [third] = load_paths(connection, [jsonl])
    # the load times, set by hand: the first two batches on UTC day 2026-03-02 (local days
    # differ), the third on 2026-03-03
    for batch_id, loaded_at in (
        (first.batch_id, "2026-03-01T23:30:00-05:00"),
        (second.batch_id, "2026-03-03T00:10:00+02:00"),
        (third.batch_id, "2026-03-03T01:00:00+00:00"),
    ):
        connection.execute(
            "update raw.redaction_counts set _loaded_at = %s where batch_id = %s",
            (loaded_at, batch_id),
        )

    dbt("build", "--select", "stg_platform__redaction_counts", "redactions_daily")

    rows = connection.execute(
        "select load_date, table_name, column_name, kind, redactions, load_batches "
        "from monitoring.redactions_daily order by 1, 2, 3, 4"
    ).fetchall()
    assert rows == [
        *(
            (date(2026, 3, 2), table, column, kind, 2 * redactions, 2)
            for table, column, kind, redactions in EXPECTED
        ),
        (date(2026, 3, 3), "task_executions", "task_description", "email", 2, 1),
    ]
