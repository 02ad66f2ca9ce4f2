{{ config(unique_key=['user_id', 'start_date']) }}

{# The additive state of each user's day, from which user_analytics builds its days, weeks
    and months: task counts by status, completed tasks' duration (sum and count), exact cost,
    baseline and savings, and the provider and task-type breakdowns. Incremental through
    rollup_periods (the days a change touched). #}
-- not materialized: read by several selects, each narrowing it by an index
with tasks as not materialized (
    select {{ rollup_task_columns() }} from {{ ref('task_executions') }}
),

{{ rollup_periods('tasks', 'tasks', ['user_id'], ['daily']) }}

day_tasks as (
    select
        user_id,
        organization_id,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as completed_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        {{ completed_sum('duration_ms') }} as duration_sum_ms,
        count(duration_ms) filter (where status = 'completed') as duration_count,
        {{ completed_sum('cost_usd') }} as cost_exact,
        {{ completed_sum('baseline_cost_usd') }} as baseline_exact,
        {{ completed_sum('savings_usd') }} as savings_exact
    from task_periods
    group by user_id, organization_id, aggregation_period, period_start
),

provider_breakdown as (
    {{ rollup_breakdown('task_periods', ['user_id', 'aggregation_period', 'period_start'],
        'provider', 'provider_usage') }}
),

task_type_breakdown as (
    {{ rollup_breakdown('task_periods', ['user_id', 'aggregation_period', 'period_start'],
        'task_type', 'task_type_distribution') }}
),

final as (
    select
        period_keys.user_id,
        period_keys.period_start as start_date,
        day_tasks.organization_id,
        coalesce(day_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(day_tasks.completed_tasks, 0)::integer as completed_tasks,
        coalesce(day_tasks.failed_tasks, 0)::integer as failed_tasks,
        day_tasks.duration_sum_ms,
        coalesce(day_tasks.duration_count, 0)::integer as duration_count,
        day_tasks.cost_exact,
        day_tasks.baseline_exact,
        day_tasks.savings_exact,
        provider_breakdown.provider_usage,
        task_type_breakdown.task_type_distribution,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['day_tasks', 'provider_breakdown',
        'task_type_breakdown'], ['user_id', 'aggregation_period', 'period_start']) }}
)

select * from final
