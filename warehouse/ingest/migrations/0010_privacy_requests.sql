-- Export and deletion of a person's or an organization's data (docs/privacy.md, "Export and
-- deletion"): every request is recorded, and an erased subject stays erased.

create schema if not exists privacy;

-- One row per request, kept as the record of what was asked and done: who asked, about whom,
-- when, and how many rows each table gave or lost. The subject's id is kept here, as the
-- record that the request was honoured.
create table privacy.requests (
    request_id bigint generated always as identity primary key,
    request_kind text not null check (request_kind in ('export', 'delete')),
    subject_kind text not null check (subject_kind in ('user', 'organization')),
    subject_id uuid not null,
    requested_by text not null,
    dry_run boolean not null default false,
    requested_at timestamptz not null default clock_timestamp(),
    completed_at timestamptz,
    row_counts jsonb not null default '{}'::jsonb,
    destination text
);
create index requests_subject on privacy.requests (subject_id, requested_at);
revoke all on privacy.requests from public;

-- Subjects whose data was deleted: the loader drops their rows from every later file (counted
-- in raw.load_batches.rows_erased), so data the platform sends again does not come back.
create table privacy.erased_subjects (
    subject_id uuid primary key,
    subject_kind text not null check (subject_kind in ('user', 'organization')),
    erased_at timestamptz not null default clock_timestamp(),
    request_id bigint not null references privacy.requests (request_id)
);
revoke all on privacy.erased_subjects from public;

-- read = loaded + rejected + erased
alter table raw.load_batches add column rows_erased integer not null default 0;
