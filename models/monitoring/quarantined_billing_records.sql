{#- Budgets and provider invoices whose newest version breaks a rule, with the rule and where
    the row came from: kept out of analytics.budget_status and
    analytics.invoice_reconciliation. Newest versions of raw.budgets = budgets there + budgets
    here (likewise for invoices). -#}
with budgets as (
    select * from {{ ref('int_budgets_checked') }}
    where quarantine_reason is not null
),

invoices as (
    select * from {{ ref('int_provider_invoices_checked') }}
    where quarantine_reason is not null
),

final as (
    select
        'budgets' as table_name,
        budget_id as record_id,
        quarantine_reason as reason,
        quarantine_detail as detail,
        organization_id,
        updated_at,
        batch_id,
        source_file,
        source_line,
        loaded_at,
        {{ run_started_at_literal() }} as built_at
    from budgets
    union all
    select
        'provider_invoices' as table_name,
        invoice_record_id as record_id,
        quarantine_reason as reason,
        quarantine_detail as detail,
        organization_id,
        updated_at,
        batch_id,
        source_file,
        source_line,
        loaded_at,
        {{ run_started_at_literal() }} as built_at
    from invoices
)

select * from final
