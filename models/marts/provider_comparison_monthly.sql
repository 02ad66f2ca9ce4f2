{#- The correct form of the spec's query 3.3: one row per provider, task type and month from
    the monthly rollup, whose success rate, average duration and average cost are computed
    over the month's tasks (the spec averages rows of every granularity together and sums
    their task counts, counting each task once per granularity). -#}
with monthly as (
    select * from {{ ref('provider_performance_metrics') }}
    where aggregation_period = 'monthly'
),

final as (
    select
        provider,
        task_type,
        metric_date as month_start,
        total_tasks,
        successful_tasks,
        failed_tasks,
        success_rate,
        avg_duration_ms,
        median_duration_ms,
        p95_duration_ms,
        avg_cost_usd,
        total_cost_usd,
        avg_quality_score
    from monthly
)

select * from final
