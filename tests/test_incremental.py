"""Incremental builds give exactly what a full rebuild gives, whatever the order of arrival.

A chaos dataset (late completions, out-of-order and duplicate versions, invalid transitions,
quarantine cases) is delivered one day at a time with a build after each delivery; then a
retroactive price correction and a new past price arrive, and a file is delivered twice. Every
row of every mart must then equal a full build of a fresh database that loaded the same files.
That rows purged by retention leave the rollups untouched, even with --full-refresh, is
tests/test_retention.py's (with a real retention run).
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest

from warehouse import settings
from warehouse.ingest.loader import load_paths
from warehouse.synthetic.generator import GeneratorConfig, generate

END = date(2026, 3, 6)
DAYS = 5
BOOKKEEPING = {"built_from_batch_id", "built_at", "loaded_at"}  # when, not what
ROLLUPS = {"organization_analytics", "user_analytics", "provider_performance_metrics"}
COMPARED = [
    ("analytics", "task_executions"),
    ("analytics", "routing_decisions"),
    ("analytics", "organization_analytics"),
    ("analytics", "user_analytics"),
    ("analytics", "provider_performance_metrics"),
    ("monitoring", "quarantined_task_executions"),
    ("monitoring", "reconciliation_daily"),
    ("monitoring", "invalid_status_transitions"),
    ("monitoring", "data_quality_daily"),
]


def as_of(day: date) -> str:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC).isoformat()


def price_corrections(landing: Path) -> Path:
    """A corrected version of a past price (same id, twice the per-token price) and a new
    task-type row for a past window."""
    with open(landing / "provider_pricing.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    closed = next(row for row in rows if row["effective_until"] and not row["task_type"])
    corrected = {
        **closed,
        "cost_per_token": str(2 * float(closed["cost_per_token"])),
        "created_at": "2026-03-06T12:00:00Z",
        "notes": "corrected",
    }
    start = END - timedelta(days=DAYS - 1)
    other = next(row for row in rows if row["provider"] != closed["provider"])
    new_row = {  # for another provider, so only its window can tell which tasks it reprices
        **other,
        "id": "99999999-0000-4000-8000-000000000001",
        "pricing_tier": "",
        "task_type": "bug_fix",
        "cost_per_token": "0.000001",
        "effective_from": f"{start + timedelta(days=1)}T00:00:00Z",
        "effective_until": f"{start + timedelta(days=3)}T00:00:00Z",
        "created_at": "2026-03-06T12:00:00Z",
        "notes": "retroactive bug_fix rate",
    }
    path = landing.parent / "corrections" / "provider_pricing__correction.csv"
    path.parent.mkdir()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([corrected, new_row])
    return path


def task_corrections(landing: Path) -> Path:
    """Newer versions of two finished tasks: one moved to the previous day, one with a
    negative cost (it leaves the marts for quarantine). The periods they left must follow."""
    source = sorted(landing.glob("task_executions__*.csv"))[1]
    with open(source, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["status"] == "completed"]
    moved, broken = dict(rows[0]), dict(rows[1])
    for row in (moved, broken):
        row["updated_at"] = "2026-03-06T13:00:00Z"
    moved["start_time"] = (datetime.fromisoformat(moved["start_time"]) - timedelta(days=1)
                           ).isoformat()  # fmt: skip
    moved["end_time"] = (datetime.fromisoformat(moved["end_time"]) - timedelta(days=1)
                         ).isoformat()  # fmt: skip
    broken["cost_usd"] = "-1"
    path = landing.parent / "corrections" / "task_executions__correction.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(moved))
        writer.writeheader()
        writer.writerows([moved, broken])
    return path


def deliveries(landing: Path) -> list[tuple[list[Path], date]]:
    """Files in the order the platform delivered them, with the day they arrived."""
    reference = [landing / f"{t}.csv" for t in ("organizations", "teams", "users",
                                                 "provider_pricing")]  # fmt: skip
    days = sorted({p.name.split("__")[1][:10] for p in landing.glob("*__*.csv")})
    batches = []
    for index, day in enumerate(days):
        files = sorted(landing.glob(f"*__{day}.csv"))
        batches.append(([*reference, *files] if index == 0 else files, date.fromisoformat(day)))
    return batches


def differences(columns: list[str], left: list[tuple], right: list[tuple]) -> list[str]:
    """Up to five readable differences between two snapshots of one table, by first column."""
    left_rows, right_rows = {row[0]: row for row in left}, {row[0]: row for row in right}
    found = []
    for key in sorted(set(left_rows) | set(right_rows)):
        a, b = left_rows.get(key), right_rows.get(key)
        if a == b:
            continue
        if a is None or b is None:
            found.append(f"{key}: only in {'rebuild' if a is None else 'incremental'}")
        else:
            found.append(f"{key}: " + ", ".join(
                f"{name} {x} != {y}" for name, x, y in zip(columns, a, b, strict=True) if x != y
            ))  # fmt: skip
    return found[:5]


COLUMNS: dict[str, list[str]] = {}


def snapshot(connection: psycopg.Connection) -> dict[str, list[tuple]]:
    tables = {}
    for schema, table in COMPARED:
        columns = [
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            )
            if row[0] not in BOOKKEEPING and not (table in ROLLUPS and row[0] == "created_at")
        ]
        COLUMNS[table] = columns
        listed = ", ".join(columns)
        tables[table] = [
            tuple(str(value) for value in row)
            for row in connection.execute(
                f"select {listed} from {schema}.{table} order by {listed}"
            ).fetchall()
        ]
    return tables


def test_incremental_builds_equal_a_full_rebuild(connection, dbt, tmp_path, other_database,
                                                 monkeypatch):  # fmt: skip
    landing = tmp_path / "landing"
    # The platform stands at 14:00 on the last day: tasks in flight then are still running.
    until = datetime.combine(END, time(14), tzinfo=UTC)
    generate(landing, GeneratorConfig(orgs=2, days=DAYS, seed=3, end_date=END, chaos=True,
                                      until=until))  # fmt: skip
    corrections = price_corrections(landing)
    moved_tasks = task_corrections(landing)
    schedule = deliveries(landing)
    # The steps run the models only (`dbt run`, the same incremental SQL as `dbt build`); the
    # last step and the rebuild run the data tests too.
    dbt("seed")
    for files, day in schedule:
        load_paths(connection, files)
        dbt("run", as_of=min(as_of(day), until.isoformat()))
    load_paths(connection, [corrections])
    dbt("run", as_of=until.isoformat())
    load_paths(connection, [moved_tasks])
    dbt("run", as_of=until.isoformat())
    redelivered = schedule[1][0][0]
    load_paths(connection, [redelivered], force=True)  # the same versions once more
    dbt("run", as_of=until.isoformat())
    final = as_of(END + timedelta(days=2))  # no new data: only open tasks' status moves
    dbt("build", as_of=final)
    incremental = snapshot(connection)

    monkeypatch.setenv("PGDATABASE", other_database)
    with psycopg.connect(**_connect_kwargs(), autocommit=True) as fresh:
        for files, _ in schedule:  # the same loads in the same order: the same batch ids
            load_paths(fresh, files)
        load_paths(fresh, [corrections])
        load_paths(fresh, [moved_tasks])
        load_paths(fresh, [redelivered], force=True)
        dbt("build", as_of=final)
        rebuilt = snapshot(fresh)

    assert {table: len(rows) for table, rows in incremental.items()} == {
        table: len(rows) for table, rows in rebuilt.items()
    }
    for table in incremental:
        assert differences(COLUMNS[table], incremental[table], rebuilt[table]) == [], table
        assert incremental[table] == rebuilt[table], table
    assert len(incremental["organization_analytics"]) > 0


def _connect_kwargs() -> dict[str, object]:
    conn = settings.connection()
    return {"host": conn.host, "port": conn.port, "user": conn.user, "dbname": conn.database}


@pytest.fixture(autouse=True)
def _no_stray_pgdatabase():
    saved = os.environ.get("PGDATABASE")
    yield
    assert os.environ.get("PGDATABASE") == saved or saved is None
