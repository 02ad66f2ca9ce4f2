-- Landing schema: append-only raw tables, one row per version of a record as the platform
-- emitted it, with the loader's lineage columns. Types are checked by the loader; business
-- rules (negative cost, unknown status, ...) are checked downstream in dbt, never here, so
-- that nothing the platform sent is refused by the database.

create table raw.load_batches (
    batch_id bigint generated always as identity primary key,
    table_name text not null,
    source_file text not null,
    file_format text not null,
    file_checksum text not null,
    file_bytes bigint not null,
    status text not null check (status in ('loaded', 'failed')),
    is_forced boolean not null default false,
    rows_read integer not null default 0,
    rows_loaded integer not null default 0,
    rows_rejected integer not null default 0,
    error_message text,
    started_at timestamptz not null,
    finished_at timestamptz,
    duration_ms integer
);

create index load_batches_checksum_idx on raw.load_batches (file_checksum) where status = 'loaded';

create table raw.rejected_rows (
    rejected_row_id bigint generated always as identity primary key,
    batch_id bigint not null references raw.load_batches (batch_id),
    table_name text not null,
    source_file text not null,
    source_line integer not null,
    field text,
    reason text not null,
    original_text text,
    rejected_at timestamptz not null default now()
);

create index rejected_rows_batch_idx on raw.rejected_rows (batch_id);

create table raw.organizations (
    id uuid not null,
    name text not null,
    pricing_tier text,
    default_provider text,
    retention_days integer,
    created_at timestamptz,
    updated_at timestamptz,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.teams (
    id uuid not null,
    organization_id uuid not null,
    name text not null,
    created_at timestamptz,
    updated_at timestamptz,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.users (
    id uuid not null,
    organization_id uuid not null,
    team_id uuid,
    name text,
    email text,
    role text,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.provider_pricing (
    id uuid not null,
    provider text not null,
    task_type text,
    cost_per_token numeric,
    cost_per_request numeric,
    cost_per_minute numeric,
    pricing_tier text,
    effective_from timestamptz not null,
    effective_until timestamptz,
    created_at timestamptz,
    notes text,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.task_executions (
    id uuid not null,
    task_id text not null,
    user_id uuid not null,
    organization_id uuid not null,
    task_type text not null,
    task_description text,
    code_language text,
    provider text not null,
    routing_reason text,
    alternative_providers jsonb,
    start_time timestamptz not null,
    end_time timestamptz,
    duration_ms bigint,
    tokens_used bigint,
    cost_usd numeric,
    baseline_cost_usd numeric,
    savings_usd numeric,
    status text not null,
    error_message text,
    created_at timestamptz,
    updated_at timestamptz not null,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.routing_decisions (
    id uuid not null,
    task_execution_id uuid not null,
    chosen_provider text not null,
    decision_timestamp timestamptz not null,
    alternative_providers jsonb,
    routing_algorithm_version text,
    decision_factors jsonb,
    predicted_cost numeric,
    predicted_duration_ms bigint,
    predicted_quality_score numeric,
    actual_cost numeric,
    actual_duration_ms bigint,
    actual_quality_score numeric,
    created_at timestamptz,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

-- Newest-version look-ups in staging and the incremental scans downstream.
create index task_executions_version_idx on raw.task_executions (id, updated_at desc);
create index task_executions_batch_idx on raw.task_executions (_batch_id);
create index routing_decisions_version_idx on raw.routing_decisions (id, created_at desc);
create index routing_decisions_batch_idx on raw.routing_decisions (_batch_id);
create index provider_pricing_batch_idx on raw.provider_pricing (_batch_id);
