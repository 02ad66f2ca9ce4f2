"""Faults placed at known points, and marts compared without their bookkeeping: what
``tests/test_faults.py`` (small scale) and the scale bench's faults phase
(``benchmarks/bench_scale.py``) share. Nothing in the warehouse's own pipeline uses it.

A fault is placed by a lock, never left to timing: the caller holds an advisory lock that the
process under test needs next, waits in ``pg_locks`` until the process waits for it, and then
kills the process (docs/concurrency.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

PAUSE_LOCK = 731_099  # taken by the trigger of pause_copy_at()
WAIT_SECONDS = 120
# When, not what: the batch a row was built from, the build's time, the time rows landed.
BOOKKEEPING = {"built_from_batch_id", "built_at", "loaded_at"}
# The rollups' created_at is when the row was first written (a task mart's is the task's).
ROLLUPS = {"organization_analytics", "user_analytics", "provider_performance_metrics"}


def wait_until(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {seconds:.0f} s waiting until {what}")
        time.sleep(0.1)


def waiting_pids(connection: psycopg.Connection, where: str, *params: object) -> list[int]:
    """Backends waiting (not granted) for a lock matching ``where`` (over pg_locks)."""
    query = f"select pid from pg_locks where not granted and {where}"
    return [row[0] for row in connection.execute(query, params)]


def advisory_waiters(connection: psycopg.Connection, key: int) -> list[int]:
    # a single bigint key is classid (high half) + objid (low half), objsubid 1
    return waiting_pids(
        connection, "locktype = 'advisory' and classid = 0 and objid = %s and objsubid = 1", key
    )


def wait_for_backends_to_end(
    connection: psycopg.Connection, pids: list[int], seconds: float = WAIT_SECONDS
) -> None:
    """A killed client's backend ends once it next reads from its closed socket."""

    def ended() -> bool:
        query = "select count(*) from pg_stat_activity where pid = any(%s)"
        return connection.execute(query, (pids,)).fetchone()[0] == 0

    wait_until(ended, f"the killed client's backends {pids} ended", seconds)


@contextmanager
def pause_copy_at(connection: psycopg.Connection, file: Path, line: int) -> Iterator[None]:
    """While inside, a COPY of ``file`` into raw.task_executions stops before its first row
    from ``line`` on (the rows before it are in, uncommitted) until the block ends.

    The trigger's ``when`` condition is evaluated without calling the function, so the rows
    before ``line`` pay little for it (a row trigger still makes COPY insert row by row)."""
    connection.execute(
        sql.SQL("""
        create function public.pause_copy() returns trigger language plpgsql as $$
        begin
            perform pg_advisory_xact_lock({key});
            return new;
        end
        $$;
        create trigger pause_copy before insert on raw.task_executions
        for each row when (new._source_line >= {line} and new._source_file = {file})
        execute function public.pause_copy();
    """).format(file=sql.Literal(str(file)), line=sql.Literal(line), key=sql.Literal(PAUSE_LOCK))
    )
    connection.execute("select pg_advisory_lock(%s)", (PAUSE_LOCK,))
    try:
        yield
    finally:
        connection.execute("select pg_advisory_unlock(%s)", (PAUSE_LOCK,))
        wait_until(lambda: _dropped_the_pause(connection), "the pause trigger was dropped")


def _dropped_the_pause(connection: psycopg.Connection) -> bool:
    """Drop the trigger, or give up at once while a paused load still writes: dropping locks
    the table's month partitions one by one, and the load, once resumed, needs one more (its
    default partition), so a waiting drop and the load would deadlock."""
    try:
        with connection.transaction():
            connection.execute("set local lock_timeout = '100ms'")
            connection.execute("drop trigger pause_copy on raw.task_executions")
            connection.execute("drop function public.pause_copy()")
    except psycopg.errors.LockNotAvailable:
        return False
    return True


def compared_columns(connection: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The columns of a mart that two builds of the same data must agree on, in table order."""
    return [
        row[0]
        for row in connection.execute(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        if row[0] not in BOOKKEEPING and not (table in ROLLUPS and row[0] == "created_at")
    ]


def table_checksum(connection: psycopg.Connection, schema: str, table: str) -> tuple[int, int]:
    """Rows and an order-independent checksum of the compared columns (computed in SQL: the
    sum of a 64-bit hash of each row's text, so no row set has to fit in one value)."""
    columns = compared_columns(connection, schema, table)
    row_text = sql.SQL("row({})::text").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
    query = sql.SQL(
        "select count(*), coalesce(sum(hashtextextended({}, 0)::numeric), 0) from {}"
    ).format(row_text, sql.Identifier(schema, table))
    rows, checksum = connection.execute(query).fetchone()
    return rows, int(checksum)
