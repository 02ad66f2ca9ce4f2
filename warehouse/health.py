"""Database health: one snapshot of the server's state per run, in the monitoring tables of
migration 0011 (docs/operations.md). Cheap by design: catalogue reads and one size call per
relation, no table scan, so a snapshot takes milliseconds even with many partitions.

``pg_stat_statements`` is read only when the extension is installed in the database (and its
library loaded); nothing here requires it.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

QUERY_TEXT_CHARS = 1000
SLOW_STATEMENTS_KEPT = 20

INSERT_SNAPSHOT = """
insert into monitoring.health_snapshots (
    database_name, database_bytes, disk_total_bytes, disk_free_bytes, connections,
    max_connections, connection_percentage, cache_hit_percentage, slow_query_ms,
    has_pg_stat_statements
)
select
    current_database(),
    pg_database_size(current_database()),
    %(disk_total_bytes)s,
    %(disk_free_bytes)s,
    connections.connections,
    limits.max_connections,
    round(100.0 * connections.connections / limits.max_connections, 2),
    cache.cache_hit_percentage,
    %(slow_query_ms)s,
    exists (select from pg_extension where extname = 'pg_stat_statements')
from
    (
        select count(*)::integer as connections
        from pg_stat_activity
        where backend_type = 'client backend'
    ) as connections,
    (select current_setting('max_connections')::integer as max_connections) as limits,
    (
        select round(100.0 * blks_hit / nullif(blks_hit + blks_read, 0), 2)
            as cache_hit_percentage
        from pg_stat_database
        where datname = current_database()
    ) as cache
returning snapshot_id, has_pg_stat_statements
"""

# Tables (plain, partitioned, materialized views) and indexes outside the system schemas, with
# growth against the same relation in the previous snapshot.
INSERT_RELATIONS = """
with user_relations as (
    select
        class.oid,
        namespace.nspname as schema_name,
        class.relname as relation_name,
        class.relkind
    from pg_class as class
    inner join pg_namespace as namespace on class.relnamespace = namespace.oid
    where
        class.relkind in ('r', 'p', 'm', 'i', 'I')
        and namespace.nspname not in ('pg_catalog', 'information_schema')
        and namespace.nspname not like 'pg\\_toast%%'
        and namespace.nspname not like 'pg\\_temp\\_%%'
),

tables as (
    select
        user_relations.schema_name,
        user_relations.relation_name,
        'table' as relation_kind,
        user_relations.relation_name as table_name,
        pg_total_relation_size(user_relations.oid) as total_bytes,
        stats.n_live_tup as live_tuples,
        stats.n_dead_tup as dead_tuples,
        stats.last_vacuum as last_vacuum_at,
        stats.last_autovacuum as last_autovacuum_at,
        null::bigint as index_scans,
        false as is_unused_index
    from user_relations
    left join pg_stat_all_tables as stats on user_relations.oid = stats.relid
    where user_relations.relkind in ('r', 'p', 'm')
),

indexes as (
    select
        user_relations.schema_name,
        user_relations.relation_name,
        'index' as relation_kind,
        indexed.relname as table_name,
        pg_relation_size(user_relations.oid) as total_bytes,
        null::bigint as live_tuples,
        null::bigint as dead_tuples,
        null::timestamptz as last_vacuum_at,
        null::timestamptz as last_autovacuum_at,
        stats.idx_scan as index_scans,
        coalesce(stats.idx_scan = 0 and not index.indisprimary and not index.indisunique, false)
            as is_unused_index
    from user_relations
    inner join pg_index as index on user_relations.oid = index.indexrelid
    inner join pg_class as indexed on index.indrelid = indexed.oid
    left join pg_stat_all_indexes as stats on user_relations.oid = stats.indexrelid
    where user_relations.relkind in ('i', 'I')
),

previous as (
    select relations.schema_name, relations.relation_name, relations.total_bytes
    from monitoring.health_relations as relations
    where relations.snapshot_id = (
        select max(snapshot_id) from monitoring.health_snapshots
        where snapshot_id < %(snapshot_id)s
    )
),

current_relations as (
    select * from tables
    union all
    select * from indexes
)

insert into monitoring.health_relations (
    snapshot_id, schema_name, relation_name, relation_kind, table_name, total_bytes,
    previous_total_bytes, growth_bytes, live_tuples, dead_tuples, last_vacuum_at,
    last_autovacuum_at, index_scans, is_unused_index
)
select
    %(snapshot_id)s,
    current_relations.schema_name,
    current_relations.relation_name,
    current_relations.relation_kind,
    current_relations.table_name,
    current_relations.total_bytes,
    previous.total_bytes,
    current_relations.total_bytes - previous.total_bytes,
    current_relations.live_tuples,
    current_relations.dead_tuples,
    current_relations.last_vacuum_at,
    current_relations.last_autovacuum_at,
    current_relations.index_scans,
    current_relations.is_unused_index
from current_relations
left join previous
    on
        current_relations.schema_name = previous.schema_name
        and current_relations.relation_name = previous.relation_name
"""

# Statements of this database running for longer than the threshold (not this session's).
INSERT_RUNNING_QUERIES = """
insert into monitoring.health_queries (
    snapshot_id, query_source, pid, query_started_at, running_ms, query
)
select
    %(snapshot_id)s,
    'pg_stat_activity',
    pid,
    query_start,
    round((extract(epoch from clock_timestamp() - query_start) * 1000)::numeric, 1),
    left(query, %(query_chars)s)
from pg_stat_activity
where
    state = 'active'
    and backend_type = 'client backend'
    and datname = current_database()
    and pid <> pg_backend_pid()
    and clock_timestamp() - query_start > make_interval(secs => %(slow_query_ms)s / 1000.0)
"""

INSERT_SLOW_STATEMENTS = """
insert into monitoring.health_queries (
    snapshot_id, query_source, calls, mean_ms, total_ms, query
)
select
    %(snapshot_id)s,
    'pg_stat_statements',
    statements.calls,
    round(statements.mean_exec_time::numeric, 1),
    round(statements.total_exec_time::numeric, 1),
    left(statements.query, %(query_chars)s)
from {schema}.pg_stat_statements as statements
where
    statements.dbid = (select oid from pg_database where datname = current_database())
    and statements.mean_exec_time > %(slow_query_ms)s
order by statements.mean_exec_time desc
limit %(kept)s
"""


@dataclass(frozen=True)
class HealthThresholds:
    """When database health raises an alert (read from the environment by
    ``warehouse.settings.health_thresholds``; in Dagster, the resource ``health``)."""

    slow_query_ms: int
    cache_hit_min_percent: float
    connections_max_percent: float
    disk_max_percent: float
    table_growth_factor: float
    table_growth_min_mb: int


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    relations: int
    slow_queries: int
    notes: list[str]


def disk_usage(data_dir: Path | None) -> tuple[int | None, int | None]:
    """(total, free) bytes of the filesystem holding ``data_dir``; (None, None) without one
    (a remote server: its filesystem is not readable from here)."""
    if data_dir is None or not data_dir.exists():
        return None, None
    usage = shutil.disk_usage(data_dir)
    return usage.total, usage.free


def take_snapshot(
    connection: psycopg.Connection, *, slow_query_ms: int, data_dir: Path | None = None
) -> Snapshot:
    """Record one snapshot (in one transaction) and return its id and row counts.

    ``data_dir``: the server's data directory when the server is local (the embedded one), for
    the free disk space; None skips it."""
    disk_total, disk_free = disk_usage(data_dir)
    notes: list[str] = []
    with connection.transaction():
        snapshot_id, has_statements = connection.execute(
            INSERT_SNAPSHOT,
            {
                "disk_total_bytes": disk_total,
                "disk_free_bytes": disk_free,
                "slow_query_ms": slow_query_ms,
            },
        ).fetchone()
        parameters = {
            "snapshot_id": snapshot_id,
            "slow_query_ms": slow_query_ms,
            "query_chars": QUERY_TEXT_CHARS,
            "kept": SLOW_STATEMENTS_KEPT,
        }
        relations = connection.execute(INSERT_RELATIONS, parameters).rowcount
        slow = connection.execute(INSERT_RUNNING_QUERIES, parameters).rowcount
        if has_statements:
            slow_statements, note = _slow_statements(connection, parameters)
            slow += slow_statements
            notes += note
    return Snapshot(snapshot_id, relations, slow, notes)


def _slow_statements(
    connection: psycopg.Connection, parameters: dict[str, int]
) -> tuple[int, list[str]]:
    """Statements whose mean time is over the threshold; none, with a note, when the
    extension is installed but its library is not loaded (shared_preload_libraries)."""
    (schema,) = connection.execute(
        "select extnamespace::regnamespace::text from pg_extension "
        "where extname = 'pg_stat_statements'"
    ).fetchone()
    query = sql.SQL(INSERT_SLOW_STATEMENTS).format(schema=sql.Identifier(schema))
    try:
        with connection.transaction():
            return connection.execute(query, parameters).rowcount, []
    except psycopg.errors.ObjectNotInPrerequisiteState as error:
        note = f"pg_stat_statements skipped: {str(error).splitlines()[0]}"
        logger.warning(note)
        return 0, [note]
