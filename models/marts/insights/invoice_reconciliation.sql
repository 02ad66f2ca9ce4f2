{#- Each provider invoice (int_provider_invoices_checked without the quarantined ones)
    against the warehouse's cost for the same provider, scope (one organization, or the whole
    platform) and billing period (docs/insights.md): the marts' cost of completed tasks started
    in the period, summed from organization_analytics' daily provider_costs (exact). An invoice
    matches when the difference is within invoice_tolerance_percentage of the warehouse's cost
    or invoice_tolerance_usd, whichever is larger. Only whole UTC days in USD compare; a period
    not over at the build's as_of is open. For an invoice that does not match, the causes the
    warehouse can see, each counted: tasks priced by their reported cost or not at all, tasks in
    quarantine, failed or timed-out tasks that carry a cost (the marts count completed tasks
    only), and price rows for the period created after they took effect (created_at after
    effective_from). -#}
with invoices as (
    select * from {{ ref('int_provider_invoices_checked') }}
    where quarantine_reason is null
),

daily as (
    select
        organization_id,
        metric_date,
        provider_costs
    from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
),

periods as (
    select
        *,
        billing_period_start = date_trunc('day', billing_period_start at time zone 'UTC')
        at time zone 'UTC'
        and billing_period_end = date_trunc('day', billing_period_end at time zone 'UTC')
        at time zone 'UTC' as is_whole_days
    from invoices
),

warehouse_costs as (
    select
        periods.invoice_record_id,
        coalesce(sum((daily.provider_costs ->> periods.provider)::numeric), 0)
            as warehouse_cost_usd
    from periods
    left join daily
        on
            (periods.organization_id is null or periods.organization_id = daily.organization_id)
            and daily.metric_date >= {{ utc_date('periods.billing_period_start') }}
            and daily.metric_date < {{ utc_date('periods.billing_period_end') }}
    group by periods.invoice_record_id
),

compared as (
    select
        periods.*,
        round(warehouse_costs.warehouse_cost_usd, 2) as warehouse_cost_usd,
        periods.amount - round(warehouse_costs.warehouse_cost_usd, 2) as difference_usd,
        case
            when periods.currency <> 'USD' then 'not_comparable'
            when not periods.is_whole_days then 'not_comparable'
            when periods.billing_period_end > {{ as_of() }} then 'open'
            when
                abs(periods.amount - round(warehouse_costs.warehouse_cost_usd, 2))
                <= greatest(
                    {{ var('invoice_tolerance_usd') }},
                    {{ var('invoice_tolerance_percentage') }} / 100.0
                    * round(warehouse_costs.warehouse_cost_usd, 2)
                )
                then 'matched'
            when periods.amount > round(warehouse_costs.warehouse_cost_usd, 2)
                then 'over_invoiced'
            else 'under_invoiced'
        end as status
    from periods
    inner join warehouse_costs
        on periods.invoice_record_id = warehouse_costs.invoice_record_id
),

mismatched as (
    -- the causes are looked for on the invoices that do not match only
    select * from compared
    where status in ('over_invoiced', 'under_invoiced')
),

task_causes as (
    select
        mismatched.invoice_record_id,
        count(*) filter (
            where task_rows.status = 'completed' and task_rows.cost_source <> 'pricing'
        ) as unpriced_tasks,
        coalesce(sum(task_rows.cost_usd) filter (
            where task_rows.status = 'completed' and task_rows.cost_source <> 'pricing'
        ), 0) as unpriced_cost_usd,
        count(*) filter (
            where task_rows.status in ('failed', 'timed_out') and task_rows.cost_usd > 0
        ) as not_completed_tasks,
        coalesce(sum(task_rows.cost_usd) filter (
            where task_rows.status in ('failed', 'timed_out') and task_rows.cost_usd > 0
        ), 0) as not_completed_cost_usd
    from mismatched
    inner join {{ ref('task_executions') }} as task_rows
        on
            mismatched.provider = task_rows.provider
            and (
                mismatched.organization_id is null
                or mismatched.organization_id = task_rows.organization_id
            )
            and mismatched.billing_period_start <= task_rows.start_time
            and mismatched.billing_period_end > task_rows.start_time
    group by mismatched.invoice_record_id
),

quarantine_causes as (
    select
        mismatched.invoice_record_id,
        count(*) as quarantined_tasks,
        coalesce(sum(quarantined.cost_usd), 0) as quarantined_reported_cost_usd
    from mismatched
    inner join {{ ref('quarantined_task_executions') }} as quarantined
        on
            lower(trim(quarantined.provider)) = mismatched.provider
            and (
                mismatched.organization_id is null
                or mismatched.organization_id = quarantined.organization_id
            )
            and mismatched.billing_period_start <= quarantined.start_time
            and mismatched.billing_period_end > quarantined.start_time
    group by mismatched.invoice_record_id
),

price_causes as (
    select
        mismatched.invoice_record_id,
        count(*) as retroactive_price_rows
    from mismatched
    inner join {{ ref('stg_platform__provider_pricing') }} as prices
        on
            mismatched.provider = prices.provider
            and mismatched.billing_period_end > prices.effective_from
            and coalesce(prices.effective_until, 'infinity') > mismatched.billing_period_start
            and prices.created_at > prices.effective_from
            and mismatched.billing_period_start < prices.created_at
    group by mismatched.invoice_record_id
),

causes as (
    select
        mismatched.invoice_record_id,
        coalesce(task_causes.unpriced_tasks, 0) as unpriced_tasks,
        coalesce(task_causes.unpriced_cost_usd, 0) as unpriced_cost_usd,
        coalesce(quarantine_causes.quarantined_tasks, 0) as quarantined_tasks,
        coalesce(quarantine_causes.quarantined_reported_cost_usd, 0)
            as quarantined_reported_cost_usd,
        coalesce(task_causes.not_completed_tasks, 0) as not_completed_tasks,
        coalesce(task_causes.not_completed_cost_usd, 0) as not_completed_cost_usd,
        coalesce(price_causes.retroactive_price_rows, 0) as retroactive_price_rows
    from mismatched
    left join task_causes
        on mismatched.invoice_record_id = task_causes.invoice_record_id
    left join quarantine_causes
        on mismatched.invoice_record_id = quarantine_causes.invoice_record_id
    left join price_causes
        on mismatched.invoice_record_id = price_causes.invoice_record_id
),

final as (
    select
        compared.invoice_record_id,
        compared.invoice_id,
        compared.provider,
        compared.organization_id,
        compared.invoice_scope,
        compared.billing_period_start,
        compared.billing_period_end,
        compared.currency,
        compared.amount as invoice_amount,
        compared.warehouse_cost_usd,
        case
            when compared.status <> 'not_comparable' then compared.difference_usd
        end as difference_usd,
        case
            when compared.status <> 'not_comparable'
                then round(
                    100 * compared.difference_usd / nullif(compared.warehouse_cost_usd, 0), 2
                )
        end as difference_percentage,
        compared.status,
        case
            when compared.currency <> 'USD'
                then 'invoiced in ' || compared.currency || '; the warehouse''s costs are in USD'
            when not compared.is_whole_days
                then 'the billing period does not start and end at 00:00 UTC'
            when compared.status = 'open'
                then 'the billing period has not ended'
        end as not_compared_reason,
        causes.unpriced_tasks,
        round(causes.unpriced_cost_usd, 2) as unpriced_cost_usd,
        causes.quarantined_tasks,
        round(causes.quarantined_reported_cost_usd, 2) as quarantined_reported_cost_usd,
        causes.not_completed_tasks,
        round(causes.not_completed_cost_usd, 2) as not_completed_cost_usd,
        causes.retroactive_price_rows,
        nullif(concat_ws(
            '; ',
            case
                when causes.unpriced_tasks > 0 then
                    causes.unpriced_tasks || ' completed tasks not priced by the price list (their '
                    || 'reported cost or none: $' || round(causes.unpriced_cost_usd, 2) || ')'
            end,
            case
                when causes.quarantined_tasks > 0 then
                    causes.quarantined_tasks || ' tasks in quarantine (reported cost $'
                    || round(causes.quarantined_reported_cost_usd, 2) || ')'
            end,
            case
                when causes.not_completed_tasks > 0 then
                    causes.not_completed_tasks || ' failed or timed-out tasks with a cost the '
                    || 'warehouse does not count ($'
                    || round(causes.not_completed_cost_usd, 2)
                    || ')'
            end,
            case
                when causes.retroactive_price_rows > 0 then
                    causes.retroactive_price_rows
                    || ' price rows for the period created after they '
                    || 'took effect'
            end
        ), '') as likely_causes,
        compared.issued_at,
        compared.updated_at as invoice_updated_at
    from compared
    left join causes
        on compared.invoice_record_id = causes.invoice_record_id
)

select * from final
