-- Database health (docs/operations.md): one snapshot per run of the database_health asset,
-- written by warehouse/health.py. The tables belong to that code, not to dbt (dbt never writes
-- them). Every row of a run shares its snapshot_id; the newest snapshot is the current state.

create schema if not exists monitoring;

create table monitoring.health_snapshots (
    snapshot_id bigint generated always as identity primary key,
    taken_at timestamptz not null default clock_timestamp(),
    database_name text not null,
    database_bytes bigint not null,
    -- the data directory's filesystem: only when the server is the embedded, local one
    disk_total_bytes bigint,
    disk_free_bytes bigint,
    connections integer not null,
    max_connections integer not null,
    connection_percentage numeric(6, 2) not null,
    -- 100 * blks_hit / (blks_hit + blks_read) of this database since the stats were reset;
    -- null before the first block was read
    cache_hit_percentage numeric(6, 2),
    slow_query_ms integer not null,
    has_pg_stat_statements boolean not null
);

comment on table monitoring.health_snapshots is
    'One row per database health snapshot: size, disk, connections, cache hit ratio.';

-- Tables (with their dead tuples and vacuums) and indexes (with their scans), per snapshot.
create table monitoring.health_relations (
    snapshot_id bigint not null references monitoring.health_snapshots (snapshot_id)
        on delete cascade,
    schema_name text not null,
    relation_name text not null,
    relation_kind text not null check (relation_kind in ('table', 'index')),
    table_name text not null,
    total_bytes bigint not null,
    previous_total_bytes bigint,
    growth_bytes bigint,
    live_tuples bigint,
    dead_tuples bigint,
    last_vacuum_at timestamptz,
    last_autovacuum_at timestamptz,
    index_scans bigint,
    is_unused_index boolean not null default false,
    primary key (snapshot_id, schema_name, relation_name)
);

comment on table monitoring.health_relations is
    'Size and growth of every table and index per health snapshot; dead tuples and last '
    '(auto)vacuum of tables; scans of indexes (unused: no scan since the stats reset, '
    'primary and unique indexes excepted).';

-- Queries running longer than the slow threshold (pg_stat_activity), and the statements whose
-- mean time is over it (pg_stat_statements, when the extension is installed).
create table monitoring.health_queries (
    snapshot_id bigint not null references monitoring.health_snapshots (snapshot_id)
        on delete cascade,
    query_source text not null check (query_source in ('pg_stat_activity', 'pg_stat_statements')),
    pid integer,
    query_started_at timestamptz,
    running_ms numeric(14, 1),
    calls bigint,
    mean_ms numeric(14, 1),
    total_ms numeric(16, 1),
    query text not null
);

create index health_queries_snapshot_idx on monitoring.health_queries (snapshot_id);

comment on table monitoring.health_queries is
    'Slow queries per health snapshot: running ones over the threshold, and statements whose '
    'mean time is over it (pg_stat_statements, when installed). Query text is cut to 1000 '
    'characters.';
