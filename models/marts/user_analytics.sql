{#- Per user and period (daily, weekly, monthly): tasks started (any status), and completed
    tasks' duration, cost and savings. -#}
with tasks as (
    select * from {{ ref('task_executions') }}
),

task_periods as (
    select
        tasks.*,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'tasks.start_date') }}
            as period_start
    from tasks
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
),

period_tasks as (
    select
        user_id,
        organization_id,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as completed_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        coalesce(sum(duration_ms) filter (where status = 'completed'), 0) as total_duration_ms,
        round(avg(duration_ms) filter (where status = 'completed')) as avg_task_duration_ms,
        coalesce(sum(cost_usd) filter (where status = 'completed'), 0) as total_cost_usd,
        coalesce(sum(baseline_cost_usd) filter (where status = 'completed'), 0)
            as total_baseline_cost_usd,
        coalesce(sum(savings_usd) filter (where status = 'completed'), 0) as total_savings_usd
    from task_periods
    group by user_id, organization_id, aggregation_period, period_start
),

provider_counts as (
    select
        user_id,
        aggregation_period,
        period_start,
        provider,
        count(*) as task_count
    from task_periods
    group by user_id, aggregation_period, period_start, provider
),

provider_breakdown as (
    select
        user_id,
        aggregation_period,
        period_start,
        jsonb_object_agg(provider, task_count) as provider_usage,
        (array_agg(provider order by task_count desc, provider asc))[1] as most_used_provider
    from provider_counts
    group by user_id, aggregation_period, period_start
),

task_type_counts as (
    select
        user_id,
        aggregation_period,
        period_start,
        task_type,
        count(*) as task_count
    from task_periods
    group by user_id, aggregation_period, period_start, task_type
),

task_type_breakdown as (
    select
        user_id,
        aggregation_period,
        period_start,
        jsonb_object_agg(task_type, task_count) as task_type_distribution
    from task_type_counts
    group by user_id, aggregation_period, period_start
),

final as (
    select
        {{ surrogate_uuid(['period_tasks.user_id', 'period_tasks.period_start',
            'period_tasks.aggregation_period']) }} as id,
        period_tasks.user_id,
        period_tasks.organization_id,
        period_tasks.period_start as metric_date,
        period_tasks.aggregation_period::varchar(20) as aggregation_period,
        period_tasks.period_start,
        ({{ period_end('period_tasks.aggregation_period', 'period_tasks.period_start') }})::date
            as period_end,
        period_tasks.total_tasks::integer as total_tasks,
        period_tasks.completed_tasks::integer as completed_tasks,
        period_tasks.failed_tasks::integer as failed_tasks,
        period_tasks.total_duration_ms::bigint as total_duration_ms,
        period_tasks.avg_task_duration_ms::integer as avg_task_duration_ms,
        period_tasks.total_cost_usd::numeric(10, 6) as total_cost_usd,
        period_tasks.total_baseline_cost_usd::numeric(10, 6) as total_baseline_cost_usd,
        period_tasks.total_savings_usd::numeric(10, 6) as total_savings_usd,
        provider_breakdown.most_used_provider::varchar(100) as most_used_provider,
        provider_breakdown.provider_usage,
        task_type_breakdown.task_type_distribution,
        {{ run_started_at_literal() }} as created_at
    from period_tasks
    inner join provider_breakdown
        on
            period_tasks.user_id = provider_breakdown.user_id
            and period_tasks.aggregation_period = provider_breakdown.aggregation_period
            and period_tasks.period_start = provider_breakdown.period_start
    inner join task_type_breakdown
        on
            period_tasks.user_id = task_type_breakdown.user_id
            and period_tasks.aggregation_period = task_type_breakdown.aggregation_period
            and period_tasks.period_start = task_type_breakdown.period_start
)

select * from final
