{#- The correct form of the spec's query 3.3: one row per provider, task type and month from
    the monthly rollup, whose success rate, average duration and average cost are computed
    over the month's tasks (the spec averages rows of every granularity together and sums
    their task counts, counting each task once per granularity). -#}
with monthly as (
    select * from {{ ref('provider_performance_metrics') }}
    where aggregation_period = 'monthly'
),

providers as (
    select * from {{ ref('providers') }}
),

final as (
    select
        monthly.provider,
        coalesce(providers.display_name, monthly.provider) as provider_name,
        monthly.task_type,
        monthly.metric_date as month_start,
        monthly.total_tasks,
        monthly.successful_tasks,
        monthly.failed_tasks,
        monthly.success_rate,
        monthly.avg_duration_ms,
        monthly.median_duration_ms,
        monthly.p95_duration_ms,
        monthly.avg_cost_usd,
        monthly.total_cost_usd,
        monthly.avg_quality_score
    from monthly
    left join providers
        on monthly.provider = providers.provider_id
)

select * from final
