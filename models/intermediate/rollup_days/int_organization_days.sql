{{ config(unique_key=['organization_id', 'start_date']) }}

{# The additive state of each organization's day, from which organization_analytics builds
    its days, weeks and months: task counts by status, completed tasks' exact cost, baseline
    and savings (rounded to cents only in the rollup), the users with a task (distinct users
    in a week are those of its days), and the provider and task-type breakdowns.
    Incremental through rollup_periods (the days a change touched). #}
-- not materialized: read by several selects, each narrowing it by an index
with tasks as not materialized (
    select {{ rollup_task_columns() }} from {{ ref('task_executions') }}
),

{{ rollup_periods('tasks', 'tasks', ['organization_id'], ['daily']) }}

day_tasks as (
    select
        organization_id,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as completed_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        count(*) filter (where status = 'timed_out') as timed_out_tasks,
        array_agg(distinct user_id order by user_id) as user_ids,
        {{ completed_sum('cost_usd') }} as cost_exact,
        {{ completed_sum('baseline_cost_usd') }} as baseline_exact,
        {{ completed_sum('savings_usd') }} as savings_exact
    from task_periods
    group by organization_id, aggregation_period, period_start
),

provider_breakdown as (
    {{ rollup_breakdown('task_periods', ['organization_id', 'aggregation_period',
        'period_start'], 'provider', 'provider_usage', cost_column='provider_costs') }}
),

task_type_breakdown as (
    {{ rollup_breakdown('task_periods', ['organization_id', 'aggregation_period',
        'period_start'], 'task_type', 'task_type_distribution') }}
),

final as (
    select
        period_keys.organization_id,
        period_keys.period_start as start_date,
        coalesce(day_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(day_tasks.completed_tasks, 0)::integer as completed_tasks,
        coalesce(day_tasks.failed_tasks, 0)::integer as failed_tasks,
        coalesce(day_tasks.timed_out_tasks, 0)::integer as timed_out_tasks,
        day_tasks.user_ids,
        day_tasks.cost_exact,
        day_tasks.baseline_exact,
        day_tasks.savings_exact,
        provider_breakdown.provider_usage,
        provider_breakdown.provider_costs,
        task_type_breakdown.task_type_distribution,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['day_tasks', 'provider_breakdown',
        'task_type_breakdown'], ['organization_id', 'aggregation_period', 'period_start']) }}
)

select * from final
