{#- The newest version of each provider invoice record (raw.provider_invoices), provider and
    currency normalized; int_provider_invoices_checked checks them. -#}
with source as (
    select * from {{ source('platform', 'provider_invoices') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['updated_at']) }} as version_rank
    from source
),

newest as (
    select
        id as invoice_record_id,
        trim(invoice_id) as invoice_id,
        lower(trim(provider)) as provider,
        organization_id,
        billing_period_start,
        billing_period_end,
        amount,
        upper(trim(currency)) as currency,
        issued_at,
        updated_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_line as source_line
    from ranked
    where version_rank = 1
)

select * from newest
