{{ config(alias='provider_daily') }}

{#- Each provider's day by task type, for the support team (no organization, no person). -#}
with daily as (
    select * from {{ ref('provider_performance_metrics') }}
    where aggregation_period = 'daily'
),

final as (
    select
        provider,
        task_type,
        metric_date,
        total_tasks,
        successful_tasks,
        failed_tasks,
        success_rate,
        avg_duration_ms,
        median_duration_ms,
        p95_duration_ms,
        p99_duration_ms,
        total_cost_usd,
        avg_cost_usd,
        total_tokens,
        avg_quality_score
    from daily
)

select * from final
