"""The cached live summaries on the marts' hand-built data (tests/test_marts.py) plus tasks of
today: the cache answers what it computed at its last refresh (computed_at), a refresh brings
what landed since, a concurrent refresh never blocks a reader (a plain refresh would), and the
cached views filter for their caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.test_marts import A1, A2, ORG_A, build_landing, execution, write
from warehouse import postgres
from warehouse.ingest.loader import load_paths
from warehouse.live import refresh_live_summaries

CACHE = "staging.int_live_savings_today_cache"
CACHED = (
    "select completed_tasks, total_savings_usd, computed_at "
    "from analytics.live_savings_today_cached where organization_id = %s"
)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def todays_task(directory, number: int, user: str, start: datetime) -> None:
    directory.mkdir()
    write(directory / "task_executions.csv", [
        execution(number, user, ORG_A, "openai_codex", "test", iso(start),
                  iso(start + timedelta(seconds=60)), 1000, "completed"),
    ])  # fmt: skip


def test_the_cache_answers_its_last_refresh_and_a_refresh_never_blocks_readers(
    connection, dbt, tmp_path
):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    if start.date() != datetime.now(UTC).date():  # at 00:00-00:03 UTC the task is yesterday's
        start = datetime.now(UTC).replace(microsecond=0)
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    todays_task(tmp_path / "first", 8, A1, start)
    load_paths(connection, [tmp_path / "first"])
    dbt("build", as_of=datetime.now(UTC).isoformat())
    [(completed, savings, computed_at)] = connection.execute(CACHED, (ORG_A,)).fetchall()
    assert (completed, savings) == (1, Decimal("0.009"))  # T8: baseline 0.021 - cost 0.012

    todays_task(tmp_path / "second", 9, A2, start)
    load_paths(connection, [tmp_path / "second"])
    assert connection.execute(CACHED, (ORG_A,)).fetchall() == [(1, savings, computed_at)]
    assert refresh_live_summaries(connection) == [
        "int_live_savings_today_cache",
        "int_live_last_five_minutes_cache",
    ]
    [(completed, savings, refreshed_at)] = connection.execute(CACHED, (ORG_A,)).fetchall()
    assert (completed, savings) == (2, Decimal("0.018"))
    assert refreshed_at > computed_at

    with postgres.connect() as refresher, postgres.connect(autocommit=True) as reader:
        reader.execute("set lock_timeout = '2s'")
        # a concurrent refresh holds its lock until its transaction ends: readers go on
        refresher.execute(f"refresh materialized view concurrently {CACHE}")
        assert reader.execute(f"select count(*) from {CACHE}").fetchone() == (1,)
        refresher.rollback()
        # a plain refresh would block them (the control: the reader's wait times out)
        refresher.execute(f"refresh materialized view {CACHE}")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            reader.execute(f"select count(*) from {CACHE}")
        refresher.rollback()
