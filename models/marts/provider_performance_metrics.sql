{#- Per provider, task type and period (hourly, daily, weekly, monthly) over finished tasks:
    total = completed + failed (timed-out and unfinished tasks are excluded); durations,
    cost and tokens over completed tasks; quality from each completed task's newest routing
    decision. Money of weekly and monthly rows is the sum of their daily rows (in cents). -#}
with tasks as (
    select * from {{ ref('task_executions') }}
    where status in ('completed', 'failed')
),

decisions as (
    select * from {{ ref('routing_decisions') }}
    where is_latest_for_task
),

task_periods as (
    select
        tasks.*,
        decisions.actual_quality_score,
        period_kinds.aggregation_period,
        case
            when period_kinds.aggregation_period = 'hourly'
                then date_trunc('hour', tasks.start_time at time zone 'utc')
            else {{ period_start_date('period_kinds.aggregation_period', 'tasks.start_date') }}
        end as period_start_local
    from tasks
    left join decisions
        on tasks.id = decisions.task_execution_id
    cross join {{ period_kinds(['hourly', 'daily', 'weekly', 'monthly']) }}
),

period_tasks as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start_local,
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
        round(coalesce(sum(cost_usd) filter (where status = 'completed'), 0), 2)
            as total_cost_cents_exact,
        avg(cost_usd) filter (where status = 'completed') as avg_cost_usd,
        coalesce(sum(tokens_used) filter (where status = 'completed'), 0) as total_tokens,
        avg(actual_quality_score) filter (where status = 'completed') as avg_quality_score
    from task_periods
    group by provider, task_type, aggregation_period, period_start_local
),

daily_cost as (
    select
        provider,
        task_type,
        period_start_local::date as start_date,
        total_cost_cents_exact as total_cost_usd
    from period_tasks
    where aggregation_period = 'daily'
),

period_cost as (
    select
        daily_cost.provider,
        daily_cost.task_type,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'daily_cost.start_date') }}
            as period_start_date,
        sum(daily_cost.total_cost_usd) as total_cost_usd
    from daily_cost
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
    group by
        daily_cost.provider,
        daily_cost.task_type,
        period_kinds.aggregation_period,
        period_start_date
),

final as (
    select
        {{ surrogate_uuid(['period_tasks.provider', 'period_tasks.task_type',
            'period_tasks.period_start_local', 'period_tasks.aggregation_period']) }} as id,
        period_tasks.provider::varchar(100) as provider,
        period_tasks.task_type::varchar(100) as task_type,
        period_tasks.period_start_local::date as metric_date,
        period_tasks.aggregation_period::varchar(20) as aggregation_period,
        period_tasks.period_start_local at time zone 'utc' as period_start,
        {{ period_end('period_tasks.aggregation_period', 'period_tasks.period_start_local') }}
        at time zone 'utc' as period_end,
        period_tasks.total_tasks::integer as total_tasks,
        period_tasks.successful_tasks::integer as successful_tasks,
        period_tasks.failed_tasks::integer as failed_tasks,
        round(100.0 * period_tasks.successful_tasks / period_tasks.total_tasks, 2)::numeric(5, 2)
            as success_rate,
        round(period_tasks.avg_duration_ms)::integer as avg_duration_ms,
        round(period_tasks.median_duration_ms)::integer as median_duration_ms,
        round(period_tasks.p95_duration_ms)::integer as p95_duration_ms,
        round(period_tasks.p99_duration_ms)::integer as p99_duration_ms,
        coalesce(period_cost.total_cost_usd, period_tasks.total_cost_cents_exact)::numeric(10, 2)
            as total_cost_usd,
        round(period_tasks.avg_cost_usd, 6)::numeric(10, 6) as avg_cost_usd,
        period_tasks.total_tokens::bigint as total_tokens,
        round(period_tasks.avg_quality_score, 2)::numeric(5, 2) as avg_quality_score,
        {{ run_started_at_literal() }} as created_at
    from period_tasks
    left join period_cost
        on
            period_tasks.provider = period_cost.provider
            and period_tasks.task_type = period_cost.task_type
            and period_tasks.aggregation_period = period_cost.aggregation_period
            and period_tasks.period_start_local::date = period_cost.period_start_date
)

select * from final
