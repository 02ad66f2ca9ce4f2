-- depends_on: {{ ref('stg_platform__routing_decisions') }}

{% set period_key = ['provider', 'task_type', 'aggregation_period', 'period_start'] %}

{# Per provider, task type and period (hourly, daily, weekly, monthly) over finished tasks:
    total = completed + failed (timed-out and unfinished tasks are excluded); duration_count, cost
    and tokens over completed tasks; quality from each completed task's newest routing
    decision; cost in cents (an hour or a day rounds its exact sum, a week or a month sums its
    days). Hours come from their tasks; days, weeks and months from the day state
    int_provider_days (percentiles from its days' sorted duration_count, averages from sums and
    counts). period_start below is UTC wall-clock time; the final columns are timestamptz.
    Incremental through rollup_periods; a task whose routing decisions changed is rebuilt too.
    Never fully refreshed. #}
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
{{ rollup_periods('tasks', 'finished_tasks', ['provider', 'task_type'],
    ['hourly', 'daily', 'weekly', 'monthly'],
    extra_trigger='tasks.id in '
        ~ '(select changed_decisions.task_execution_id from changed_decisions)',
    days=ref('int_provider_days')) }}

-- hours, from their tasks
hour_tasks as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as successful_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        avg(duration_ms) filter (where status = 'completed') as avg_duration_ms,
        percentile_cont(0.5) within group (
            order by duration_ms
        ) filter (where status = 'completed') as median_duration_ms,
        percentile_cont(0.95) within group (
            order by duration_ms
        ) filter (where status = 'completed') as p95_duration_ms,
        percentile_cont(0.99) within group (
            order by duration_ms
        ) filter (where status = 'completed') as p99_duration_ms,
        avg(cost_usd) filter (where status = 'completed') as avg_cost_usd,
        coalesce({{ completed_sum('tokens_used') }}, 0) as total_tokens,
        avg(actual_quality_score) filter (where status = 'completed') as avg_quality_score,
        {{ cents(completed_sum('cost_usd')) }} as total_cost_usd
    from task_periods
    group by provider, task_type, aggregation_period, period_start
),

-- days, weeks and months, from their days' state
day_totals as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start,
        sum(total_tasks) as total_tasks,
        sum(successful_tasks) as successful_tasks,
        sum(failed_tasks) as failed_tasks,
        sum(duration_sum_ms) / nullif(sum(duration_count), 0) as avg_duration_ms,
        sum(cost_exact) / nullif(sum(cost_count), 0) as avg_cost_usd,
        coalesce(sum(tokens), 0) as total_tokens,
        sum(quality_sum) / nullif(sum(quality_count), 0) as avg_quality_score,
        sum({{ cents('cost_exact') }}) as total_cost_usd
    from day_periods
    group by provider, task_type, aggregation_period, period_start
),

day_durations as (
    select
        day_periods.provider,
        day_periods.task_type,
        day_periods.aggregation_period,
        day_periods.period_start,
        percentile_cont(0.5) within group (
            order by completed.duration_ms
        ) as median_duration_ms,
        percentile_cont(0.95) within group (
            order by completed.duration_ms
        ) as p95_duration_ms,
        percentile_cont(0.99) within group (
            order by completed.duration_ms
        ) as p99_duration_ms
    from day_periods
    cross join lateral unnest(day_periods.durations_ms) as completed (duration_ms)
    group by
        day_periods.provider,
        day_periods.task_type,
        day_periods.aggregation_period,
        day_periods.period_start
),

period_tasks as (
    select * from hour_tasks
    union all
    select
        day_totals.provider,
        day_totals.task_type,
        day_totals.aggregation_period,
        day_totals.period_start,
        day_totals.total_tasks,
        day_totals.successful_tasks,
        day_totals.failed_tasks,
        day_totals.avg_duration_ms,
        day_durations.median_duration_ms,
        day_durations.p95_duration_ms,
        day_durations.p99_duration_ms,
        day_totals.avg_cost_usd,
        day_totals.total_tokens,
        day_totals.avg_quality_score,
        day_totals.total_cost_usd
    from day_totals
    left join day_durations
        on {{ keys_match('day_totals', 'day_durations', period_key) }}
),

final as (
    select
        {{ surrogate_uuid(['period_keys.provider', 'period_keys.task_type',
            'period_keys.period_start', 'period_keys.aggregation_period']) }} as id,
        period_keys.provider::varchar(100) as provider,
        period_keys.task_type::varchar(100) as task_type,
        period_keys.period_start::date as metric_date,
        period_keys.aggregation_period::varchar(20) as aggregation_period,
        period_keys.period_start at time zone 'utc' as period_start,
        {{ period_end('period_keys.aggregation_period', 'period_keys.period_start') }}
        at time zone 'utc' as period_end,
        coalesce(period_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(period_tasks.successful_tasks, 0)::integer as successful_tasks,
        coalesce(period_tasks.failed_tasks, 0)::integer as failed_tasks,
        round(100.0 * period_tasks.successful_tasks / period_tasks.total_tasks, 2)::numeric(5, 2)
            as success_rate,
        round(period_tasks.avg_duration_ms)::integer as avg_duration_ms,
        round(period_tasks.median_duration_ms)::integer as median_duration_ms,
        round(period_tasks.p95_duration_ms)::integer as p95_duration_ms,
        round(period_tasks.p99_duration_ms)::integer as p99_duration_ms,
        coalesce(period_tasks.total_cost_usd, 0)::numeric(10, 2) as total_cost_usd,
        round(period_tasks.avg_cost_usd, 6)::numeric(10, 6) as avg_cost_usd,
        coalesce(period_tasks.total_tokens, 0)::bigint as total_tokens,
        round(period_tasks.avg_quality_score, 2)::numeric(5, 2) as avg_quality_score,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['period_tasks'], period_key) }}
)

select * from final
