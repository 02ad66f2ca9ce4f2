{{ config(unique_key=['provider', 'task_type', 'start_date']) }}

-- depends_on: {{ ref('stg_platform__routing_decisions') }}

{# The additive state of each provider, task type and day over finished tasks (completed or
    failed), from which provider_performance_metrics builds its days, weeks and months: counts,
    completed tasks' duration (sum, count and every value, sorted: the exact percentiles of a
    week or a month come from its days' values), cost (exact sum and count), tokens, and
    quality score (sum and count) from each completed task's newest routing decision.
    Incremental through rollup_periods; a task whose routing decisions changed is rebuilt too. #}
-- not materialized: read by several selects, each narrowing it by an index
with tasks as not materialized (
    select {{ rollup_task_columns() }} from {{ ref('task_executions') }}
),

decisions as (
    select * from {{ ref('routing_decisions') }}
    where is_latest_for_task
),

finished_tasks as not materialized (
    select
        tasks.*,
        decisions.actual_quality_score
    from tasks
    left join decisions
        on tasks.id = decisions.task_execution_id
    where tasks.status in ('completed', 'failed')
),

{% if is_incremental() %}
changed_decisions as (
    select decisions_changed.task_execution_id
    from {{ ref('stg_platform__routing_decisions') }} as decisions_changed
    where decisions_changed.last_batch_id > {{ previous_watermark() }}
),

{% endif %}
{{ rollup_periods('tasks', 'finished_tasks', ['provider', 'task_type'], ['daily'],
    extra_trigger='tasks.id in '
        ~ '(select changed_decisions.task_execution_id from changed_decisions)') }}

day_tasks as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as successful_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        {{ completed_sum('duration_ms') }} as duration_sum_ms,
        count(duration_ms) filter (where status = 'completed') as duration_count,
        array_agg(duration_ms order by duration_ms) filter (
            where status = 'completed' and duration_ms is not null
        ) as durations_ms,
        {{ completed_sum('cost_usd') }} as cost_exact,
        count(cost_usd) filter (where status = 'completed') as cost_count,
        {{ completed_sum('tokens_used') }} as tokens,
        {{ completed_sum('actual_quality_score') }} as quality_sum,
        count(actual_quality_score) filter (where status = 'completed') as quality_count
    from task_periods
    group by provider, task_type, aggregation_period, period_start
),

final as (
    select
        period_keys.provider::varchar(100) as provider,
        period_keys.task_type::varchar(100) as task_type,
        period_keys.period_start as start_date,
        coalesce(day_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(day_tasks.successful_tasks, 0)::integer as successful_tasks,
        coalesce(day_tasks.failed_tasks, 0)::integer as failed_tasks,
        day_tasks.duration_sum_ms,
        coalesce(day_tasks.duration_count, 0)::integer as duration_count,
        day_tasks.durations_ms,
        day_tasks.cost_exact,
        coalesce(day_tasks.cost_count, 0)::integer as cost_count,
        day_tasks.tokens,
        day_tasks.quality_sum,
        coalesce(day_tasks.quality_count, 0)::integer as quality_count,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['day_tasks'],
        ['provider', 'task_type', 'aggregation_period', 'period_start']) }}
)

select * from final
