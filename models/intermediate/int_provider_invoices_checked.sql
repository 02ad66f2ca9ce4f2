{#- Each provider invoice record's newest version, checked: quarantine_reason names the first
    rule it breaks (empty for an invoice analytics.invoice_reconciliation compares;
    monitoring.quarantined_billing_records lists the others). A provider's invoice number
    counts once: of two records, the later updated wins. -#}
with newest as (
    select * from {{ ref('stg_platform__provider_invoices') }}
),

checked as (
    select
        newest.*,
        organizations.organization_id is not null as is_known_organization,
        first_value(newest.invoice_record_id) over (
            partition by newest.provider, newest.invoice_id
            order by newest.updated_at desc, newest.loaded_at desc, newest.invoice_record_id desc
        ) as invoice_winner_id
    from newest
    left join {{ ref('stg_platform__organizations') }} as organizations
        on newest.organization_id = organizations.organization_id
),

reasons as (
    select
        *,
        case
            when amount < 0 then 'negative_amount'
            when billing_period_end <= billing_period_start then 'empty_period'
            when currency !~ '^[A-Z]{3}$' then 'invalid_currency'
            when organization_id is not null and not is_known_organization
                then 'unknown_organization'
            when invoice_record_id <> invoice_winner_id then 'replaced'
        end as quarantine_reason
    from checked
),

final as (
    select
        invoice_record_id,
        invoice_id,
        provider,
        organization_id,
        case when organization_id is null then 'platform' else 'organization' end
            as invoice_scope,
        billing_period_start,
        billing_period_end,
        amount,
        currency,
        quarantine_reason,
        case quarantine_reason
            when 'negative_amount'
                then 'amount is negative (' || amount || '): credit notes are not reconciled'
            when 'empty_period' then 'billing_period_end is not after billing_period_start'
            when 'invalid_currency' then 'currency is not an ISO 4217 code: ' || currency
            when 'unknown_organization' then 'no organization ' || organization_id
            when 'replaced'
                then
                    'replaced by invoice record ' || invoice_winner_id
                    || ', updated later with the same provider and invoice_id'
        end as quarantine_detail,
        issued_at,
        updated_at,
        loaded_at,
        batch_id,
        source_file,
        source_line
    from reasons
)

select * from final
