-- Budgets and provider invoices (docs/insights.md): landing tables like the platform's others,
-- append-only versions with the loader's lineage columns. The business rules (a positive
-- amount, a month's first day, a period that ends after it starts, ...) are checked in dbt,
-- where a row that breaks one is kept with its reason (monitoring.quarantined_billing_records).

create table raw.budgets (
    id uuid not null,
    organization_id uuid not null,
    team_id uuid,
    budget_month timestamptz not null,
    amount_usd numeric not null,
    created_at timestamptz,
    updated_at timestamptz not null,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);

create table raw.provider_invoices (
    id uuid not null,
    invoice_id text not null,
    provider text not null,
    organization_id uuid,
    billing_period_start timestamptz not null,
    billing_period_end timestamptz not null,
    amount numeric not null,
    currency text not null,
    issued_at timestamptz,
    updated_at timestamptz not null,
    _loaded_at timestamptz not null default now(),
    _batch_id bigint not null references raw.load_batches (batch_id),
    _source_file text not null,
    _source_line integer not null
);
