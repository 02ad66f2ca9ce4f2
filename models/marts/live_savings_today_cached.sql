{#- The cached real-time savings counter (int_live_savings_today_cache, at most a minute old: see
    computed_at), filtered for the caller as organization_analytics is (organization admins
    their organization, the BI reader every one). -#}
with cached as (
    select * from {{ ref('int_live_savings_today_cache') }}
),

final as (
    select
        organization_id,
        metric_date,
        completed_tasks,
        completed_tasks_live,
        total_cost_usd,
        total_baseline_cost_usd,
        total_savings_usd,
        computed_at
    from cached
    where {{ visible_to_caller('organization_id') }}
)

select * from final
