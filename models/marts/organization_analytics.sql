{#- Per organization and period (daily, weekly, monthly): tasks started in the period (any
    status), developers, and completed tasks' cost, baseline and savings. Money columns of a
    weekly or monthly row are the sums of its daily rows (each rounded to cents), so the rows
    of one organization always add up; savings_percentage uses the unrounded sums. -#}
with tasks as (
    select * from {{ ref('task_executions') }}
),

users as (
    select * from {{ ref('users') }}
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
        organization_id,
        aggregation_period,
        period_start,
        count(*) as total_tasks,
        count(*) filter (where status = 'completed') as completed_tasks,
        count(*) filter (where status = 'failed') as failed_tasks,
        count(*) filter (where status = 'timed_out') as timed_out_tasks,
        count(distinct user_id) as active_developers,
        coalesce(sum(savings_usd) filter (where status = 'completed'), 0) as savings_exact,
        coalesce(sum(baseline_cost_usd) filter (where status = 'completed'), 0)
            as baseline_exact
    from task_periods
    group by organization_id, aggregation_period, period_start
),

daily_money as (
    select
        organization_id,
        start_date,
        round(coalesce(sum(cost_usd) filter (where status = 'completed'), 0), 2)
            as total_cost_usd,
        round(coalesce(sum(baseline_cost_usd) filter (where status = 'completed'), 0), 2)
            as total_baseline_cost_usd,
        round(coalesce(sum(savings_usd) filter (where status = 'completed'), 0), 2)
            as total_savings_usd
    from tasks
    group by organization_id, start_date
),

period_money as (
    select
        daily_money.organization_id,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'daily_money.start_date') }}
            as period_start,
        sum(daily_money.total_cost_usd) as total_cost_usd,
        sum(daily_money.total_baseline_cost_usd) as total_baseline_cost_usd,
        sum(daily_money.total_savings_usd) as total_savings_usd
    from daily_money
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
    group by daily_money.organization_id, period_kinds.aggregation_period, period_start
),

provider_counts as (
    select
        organization_id,
        aggregation_period,
        period_start,
        provider,
        count(*) as task_count,
        coalesce(sum(cost_usd) filter (where status = 'completed'), 0) as provider_cost
    from task_periods
    group by organization_id, aggregation_period, period_start, provider
),

provider_breakdown as (
    select
        organization_id,
        aggregation_period,
        period_start,
        jsonb_object_agg(provider, task_count) as provider_usage,
        jsonb_object_agg(provider, provider_cost) as provider_costs
    from provider_counts
    group by organization_id, aggregation_period, period_start
),

task_type_counts as (
    select
        organization_id,
        aggregation_period,
        period_start,
        task_type,
        count(*) as task_count
    from task_periods
    group by organization_id, aggregation_period, period_start, task_type
),

task_type_breakdown as (
    select
        organization_id,
        aggregation_period,
        period_start,
        jsonb_object_agg(task_type, task_count) as task_type_distribution
    from task_type_counts
    group by organization_id, aggregation_period, period_start
),

developers as (
    select
        period_tasks.organization_id,
        period_tasks.aggregation_period,
        period_tasks.period_start,
        count(users.id) as total_developers
    from period_tasks
    left join users
        on
            period_tasks.organization_id = users.organization_id
            and coalesce(
                users.created_at < {{ utc_midnight(period_end(
                    'period_tasks.aggregation_period', 'period_tasks.period_start')) }},
                true
            )
            and coalesce(
                users.deleted_at >= {{ utc_midnight('period_tasks.period_start') }}, true
            )
    group by
        period_tasks.organization_id,
        period_tasks.aggregation_period,
        period_tasks.period_start
),

final as (
    select
        {{ surrogate_uuid(['period_tasks.organization_id', 'period_tasks.period_start',
            'period_tasks.aggregation_period']) }} as id,
        period_tasks.organization_id,
        period_tasks.period_start as metric_date,
        period_tasks.aggregation_period::varchar(20) as aggregation_period,
        period_tasks.period_start,
        ({{ period_end('period_tasks.aggregation_period', 'period_tasks.period_start') }})::date
            as period_end,
        period_tasks.total_tasks::integer as total_tasks,
        period_tasks.completed_tasks::integer as completed_tasks,
        period_tasks.failed_tasks::integer as failed_tasks,
        period_tasks.timed_out_tasks::integer as timed_out_tasks,
        developers.total_developers::integer as total_developers,
        period_tasks.active_developers::integer as active_developers,
        period_money.total_cost_usd::numeric(10, 2) as total_cost_usd,
        period_money.total_baseline_cost_usd::numeric(10, 2) as total_baseline_cost_usd,
        period_money.total_savings_usd::numeric(10, 2) as total_savings_usd,
        case
            when period_tasks.baseline_exact != 0
                then
                    round(100 * period_tasks.savings_exact / period_tasks.baseline_exact, 2)
        end::numeric(7, 2) as savings_percentage,
        provider_breakdown.provider_usage,
        provider_breakdown.provider_costs,
        task_type_breakdown.task_type_distribution,
        {{ run_started_at_literal() }} as created_at
    from period_tasks
    inner join period_money
        on
            period_tasks.organization_id = period_money.organization_id
            and period_tasks.aggregation_period = period_money.aggregation_period
            and period_tasks.period_start = period_money.period_start
    inner join provider_breakdown
        on
            period_tasks.organization_id = provider_breakdown.organization_id
            and period_tasks.aggregation_period = provider_breakdown.aggregation_period
            and period_tasks.period_start = provider_breakdown.period_start
    inner join task_type_breakdown
        on
            period_tasks.organization_id = task_type_breakdown.organization_id
            and period_tasks.aggregation_period = task_type_breakdown.aggregation_period
            and period_tasks.period_start = task_type_breakdown.period_start
    inner join developers
        on
            period_tasks.organization_id = developers.organization_id
            and period_tasks.aggregation_period = developers.aggregation_period
            and period_tasks.period_start = developers.period_start
)

select * from final
