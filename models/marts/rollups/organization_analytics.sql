-- depends_on: {{ ref('task_executions') }}
-- depends_on: {{ ref('stg_platform__organizations') }}
-- depends_on: {{ ref('stg_platform__users') }}

{% set period_key = ['organization_id', 'aggregation_period', 'period_start'] %}

{# Per organization and period (daily, weekly, monthly): tasks started in the period (any
    status), developers, and completed tasks' cost, baseline and savings in cents (a day
    rounds its exact sum, a week or a month sums its days); savings_percentage uses the
    unrounded sums. Every period is summed from the day state int_organization_days (active
    developers: the distinct users of its days). Incremental through rollup_periods; an
    organization whose data or users changed is rebuilt too. Never fully refreshed: periods
    whose raw rows were purged by retention are kept. #}
with users as (
    select * from {{ ref('users') }}
),

{% if is_incremental() %}
-- what changed (for the triggers); not materialized: each select narrows it by an index
tasks as not materialized (
    select {{ rollup_task_columns() }} from {{ ref('task_executions') }}
),

changed_organizations as (
    select organizations.organization_id
    from {{ ref('stg_platform__organizations') }} as organizations
    where organizations.batch_id > {{ previous_watermark() }}
    union
    select user_rows.organization_id
    from {{ ref('stg_platform__users') }} as user_rows
    where user_rows.batch_id > {{ previous_watermark() }}
),

{% endif %}
{{ rollup_periods('tasks', 'tasks', ['organization_id'], ['daily', 'weekly', 'monthly'],
    extra_trigger='tasks.organization_id in '
        ~ '(select changed_organizations.organization_id from changed_organizations)',
    days=ref('int_organization_days')) }}

period_tasks as (
    select
        organization_id,
        aggregation_period,
        period_start,
        sum(total_tasks) as total_tasks,
        sum(completed_tasks) as completed_tasks,
        sum(failed_tasks) as failed_tasks,
        sum(timed_out_tasks) as timed_out_tasks,
        coalesce(sum(savings_exact), 0) as savings_exact,
        coalesce(sum(baseline_exact), 0) as baseline_exact,
        sum({{ cents('cost_exact') }}) as total_cost_usd,
        sum({{ cents('baseline_exact') }}) as total_baseline_cost_usd,
        sum({{ cents('savings_exact') }}) as total_savings_usd
    from day_periods
    group by organization_id, aggregation_period, period_start
),

-- distinct users over the period's days
active_developers as (
    select
        day_periods.organization_id,
        day_periods.aggregation_period,
        day_periods.period_start,
        count(distinct active.user_id) as active_developers
    from day_periods
    cross join lateral unnest(day_periods.user_ids) as active (user_id)
    group by day_periods.organization_id, day_periods.aggregation_period, day_periods.period_start
),

provider_usage as (
    {{ rollup_merged_breakdown('day_periods', period_key, 'provider_usage') }}
),

provider_costs as (
    {{ rollup_merged_breakdown('day_periods', period_key, 'provider_costs') }}
),

task_type_breakdown as (
    {{ rollup_merged_breakdown('day_periods', period_key, 'task_type_distribution') }}
),

developers as (
    select
        period_keys.organization_id,
        period_keys.aggregation_period,
        period_keys.period_start,
        count(users.id) as total_developers
    from period_keys
    left join users
        on
            period_keys.organization_id = users.organization_id
            and coalesce(
                users.created_at < {{ utc_midnight(period_end(
                    'period_keys.aggregation_period', 'period_keys.period_start')) }},
                true
            )
            and coalesce(
                users.deleted_at >= {{ utc_midnight('period_keys.period_start') }}, true
            )
    group by
        period_keys.organization_id,
        period_keys.aggregation_period,
        period_keys.period_start
),

final as (
    select
        {{ surrogate_uuid(['period_keys.organization_id', 'period_keys.period_start',
            'period_keys.aggregation_period']) }} as id,
        period_keys.organization_id,
        period_keys.period_start as metric_date,
        period_keys.aggregation_period::varchar(20) as aggregation_period,
        period_keys.period_start,
        ({{ period_end('period_keys.aggregation_period', 'period_keys.period_start') }})::date
            as period_end,
        coalesce(period_tasks.total_tasks, 0)::integer as total_tasks,
        coalesce(period_tasks.completed_tasks, 0)::integer as completed_tasks,
        coalesce(period_tasks.failed_tasks, 0)::integer as failed_tasks,
        coalesce(period_tasks.timed_out_tasks, 0)::integer as timed_out_tasks,
        developers.total_developers::integer as total_developers,
        coalesce(active_developers.active_developers, 0)::integer as active_developers,
        coalesce(period_tasks.total_cost_usd, 0)::numeric(10, 2) as total_cost_usd,
        coalesce(period_tasks.total_baseline_cost_usd, 0)::numeric(10, 2)
            as total_baseline_cost_usd,
        coalesce(period_tasks.total_savings_usd, 0)::numeric(10, 2) as total_savings_usd,
        case
            when period_tasks.baseline_exact != 0
                then
                    round(100 * period_tasks.savings_exact / period_tasks.baseline_exact, 2)
        end::numeric(7, 2) as savings_percentage,
        provider_usage.provider_usage,
        provider_costs.provider_costs,
        task_type_breakdown.task_type_distribution,
        {{ rollup_build_columns() }}
    from period_keys
    {{- left_join_each('period_keys', ['period_tasks', 'active_developers',
        'provider_usage', 'provider_costs', 'task_type_breakdown', 'developers'], period_key) }}
)

select * from final
