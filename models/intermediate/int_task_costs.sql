{#- Cost, baseline and savings of every task that is not quarantined, each traced to the
    pricing row it was computed with, and the status as of the build's `as_of`. -#}
with tasks as (
    select * from {{ ref('int_task_executions_checked') }}
    where quarantine_reason is null
),

pricing as (
    select * from {{ ref('stg_platform__provider_pricing') }}
    where not has_empty_window
),

priced as (
    select
        task_rows.*,
        price.provider_pricing_id as pricing_id,
        {{ priced_cost('price', 'task_rows.tokens_used', 'task_rows.duration_ms') }}
            as priced_cost_usd,
        baseline_price.provider_pricing_id as baseline_pricing_id,
        {{ priced_cost('baseline_price', 'task_rows.tokens_used', 'task_rows.duration_ms') }}
            as priced_baseline_cost_usd
    from tasks as task_rows
    left join lateral (
        {{ applicable_price(
            'pricing', 'task_rows.provider', 'task_rows.task_type', 'task_rows.pricing_tier',
            'task_rows.started_at') }}
    ) as price on true
    left join lateral (
        {{ applicable_price(
            'pricing', 'task_rows.baseline_provider', 'task_rows.task_type',
            'task_rows.pricing_tier', 'task_rows.started_at') }}
    ) as baseline_price on true
),

costed as (
    select
        *,
        coalesce(priced_cost_usd, round(reported_cost_usd, 6)) as cost_usd,
        case
            when priced_cost_usd is not null then 'pricing'
            when reported_cost_usd is not null then 'reported'
            else 'missing'
        end as cost_source,
        case
            when priced_baseline_cost_usd is not null then 'pricing'
            when reported_baseline_cost_usd is not null then 'reported'
            when coalesce(priced_cost_usd, reported_cost_usd) is not null then 'cost'
            else 'missing'
        end as baseline_source
    from priced
),

final as (
    select
        *,
        coalesce(
            priced_baseline_cost_usd, round(reported_baseline_cost_usd, 6), cost_usd
        ) as baseline_cost_usd,
        coalesce(
            priced_baseline_cost_usd, round(reported_baseline_cost_usd, 6), cost_usd
        ) - cost_usd as savings_usd,
        {{ effective_status('status', 'ended_at', 'started_at') }} as effective_status
    from costed
)

select * from final
