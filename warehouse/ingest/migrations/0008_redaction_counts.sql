-- What the sanitizer removed from free text, per load batch: one row per raw table, column and
-- kind of finding (warehouse/privacy/sanitize.py names the kinds), with the number of findings
-- replaced. Written by the loader in the batch's own transaction; counts only, never the text.
-- monitoring.redactions_daily adds them up per UTC day of load.

create table raw.redaction_counts (
    batch_id bigint not null references raw.load_batches (batch_id),
    table_name text not null,
    column_name text not null,
    kind text not null,
    redactions integer not null check (redactions > 0),
    _loaded_at timestamptz not null default now(),
    primary key (batch_id, table_name, column_name, kind)
);

create index redaction_counts_loaded_at_idx on raw.redaction_counts (_loaded_at);
