-- Retention (docs/privacy.md, "Retention"): `warehouse retention run` archives the raw rows of
-- expired tasks to Parquet, verifies the archive, then deletes them and the row-level rows
-- built from them. Each run is recorded here; a run whose status is not 'finished' deleted
-- nothing (its delete and its status commit together).

create schema if not exists privacy;

create table privacy.retention_runs (
    run_id text primary key,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    -- the instant the cut-offs were computed from ("now", injectable for tests)
    as_of timestamptz not null,
    status text not null check (status in ('archiving', 'finished', 'abandoned')),
    archive_uri text not null,
    manifest_path text,
    tasks integer not null default 0,
    task_rows_archived bigint not null default 0,
    decision_rows_archived bigint not null default 0,
    task_rows_deleted bigint not null default 0,
    decision_rows_deleted bigint not null default 0,
    row_level_rows_deleted bigint not null default 0,
    archive_files_expired integer not null default 0
);

-- The (organization, user, provider, task type, UTC day) of every mart task a run purged: no
-- rollup period holding such a day of its subject is rebuilt from the tasks that remain, so
-- no aggregate changes because of a purge (macro without_retention_purges). In raw beside
-- raw.batch_horizons: bookkeeping that dbt reads as a source of the platform.
create table raw.retention_purged_days (
    organization_id uuid not null,
    user_id uuid not null,
    provider text not null,
    task_type text not null,
    start_date date not null,
    run_id text not null references privacy.retention_runs (run_id),
    primary key (organization_id, user_id, provider, task_type, start_date)
);

create index retention_purged_days_provider_idx
on raw.retention_purged_days (provider, task_type, start_date);
create index retention_purged_days_user_idx on raw.retention_purged_days (user_id, start_date);

-- One row per `warehouse retention restore`.
create table privacy.retention_restores (
    restore_id bigint generated always as identity primary key,
    organization_id uuid not null,
    month text not null,
    restored_at timestamptz not null default clock_timestamp(),
    files integer not null,
    task_rows_read bigint not null,
    task_rows_restored bigint not null,
    decision_rows_read bigint not null,
    decision_rows_restored bigint not null
);
