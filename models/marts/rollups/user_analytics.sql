-- depends_on: {{ ref('task_executions') }}

{% set period_key = ['user_id', 'aggregation_period', 'period_start'] %}

{# Per user and period (daily, weekly, monthly): tasks started (any status), and completed
    tasks' duration, cost and savings (6 decimals, unrounded), summed from the day state
    int_user_days. Incremental through rollup_periods; never fully refreshed. #}
with
{% if is_incremental() %}
-- what changed (for the triggers); not materialized: each select narrows it by an index
tasks as not materialized (
    select {{ rollup_task_columns() }} from {{ ref('task_executions') }}
),

{% endif %}

{{ rollup_periods('tasks', 'tasks', ['user_id'], ['daily', 'weekly', 'monthly'],
    days=ref('int_user_days')) }}

period_tasks as (
    select
        user_id,
        organization_id,
        aggregation_period,
        period_start,
        sum(total_tasks) as total_tasks,
        sum(completed_tasks) as completed_tasks,
        sum(failed_tasks) as failed_tasks,
        coalesce(sum(duration_sum_ms), 0) as total_duration_ms,
        round(sum(duration_sum_ms) / nullif(sum(duration_count), 0)) as avg_task_duration_ms,
        coalesce(sum(cost_exact), 0) as total_cost_usd,
        coalesce(sum(baseline_exact), 0) as total_baseline_cost_usd,
        coalesce(sum(savings_exact), 0) as total_savings_usd
    from day_periods
    group by user_id, organization_id, aggregation_period, period_start
),

provider_breakdown as (
    {{ rollup_merged_breakdown('day_periods', period_key, 'provider_usage',
        most_used_column='most_used_provider') }}
),

task_type_breakdown as (
    {{ rollup_merged_breakdown('day_periods', period_key, 'task_type_distribution') }}
),

final as (
    select
        {{ surrogate_uuid(['period_keys.user_id', 'period_keys.period_start',
            'period_keys.aggregation_period']) }} as id,
        period_keys.user_id,
        period_tasks.organization_id,
        period_keys.period_start as metric_date,
        period_keys.aggregation_period::varchar(20) as aggregation_period,
        period_keys.period_start,
        ({{ period_end('period_keys.aggregation_period', 'period_keys.period_start') }})::date
            as period_end,
        coalesce(period_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(period_tasks.completed_tasks, 0)::integer as completed_tasks,
        coalesce(period_tasks.failed_tasks, 0)::integer as failed_tasks,
        coalesce(period_tasks.total_duration_ms, 0)::bigint as total_duration_ms,
        period_tasks.avg_task_duration_ms::integer as avg_task_duration_ms,
        coalesce(period_tasks.total_cost_usd, 0)::numeric(10, 6) as total_cost_usd,
        coalesce(period_tasks.total_baseline_cost_usd, 0)::numeric(10, 6)
            as total_baseline_cost_usd,
        coalesce(period_tasks.total_savings_usd, 0)::numeric(10, 6) as total_savings_usd,
        provider_breakdown.most_used_provider::varchar(100) as most_used_provider,
        provider_breakdown.provider_usage,
        task_type_breakdown.task_type_distribution,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['period_tasks', 'provider_breakdown',
        'task_type_breakdown'], period_key) }}
)

select * from final
