{#- The cached last five minutes (int_live_last_five_minutes_cache), filtered for the caller as
    organization_analytics is. -#}
with cached as (
    select * from {{ ref('int_live_last_five_minutes_cache') }}
),

final as (
    select
        organization_id,
        provider,
        window_start,
        window_end,
        started_tasks,
        completed_tasks,
        failed_tasks,
        total_cost_usd,
        total_baseline_cost_usd,
        total_savings_usd,
        computed_at
    from cached
    where {{ visible_to_caller('organization_id') }}
)

select * from final
