{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        full_refresh=false,
        on_schema_change='fail',
        post_hook=["delete from {{ this }} where total_tasks = 0"],
    )
}}

-- depends_on: {{ ref('stg_platform__task_execution_versions') }}
-- depends_on: {{ ref('stg_platform__organizations') }}
-- depends_on: {{ ref('stg_platform__users') }}
-- depends_on: {{ ref('int_batch_watermark') }}

{% set period_key = ['organization_id', 'aggregation_period', 'period_start'] %}

{# Per organization and period (daily, weekly, monthly): tasks started in the period (any
    status), developers, and completed tasks' cost, baseline and savings. Money columns are
    cents: a day rounds its exact sum, and a week or a month is the sum of its days, so the rows
    of one organization always add up; savings_percentage uses the unrounded sums.
    Incremental: rebuilds the periods of changed tasks (before and after the change), of open
    tasks and of organizations whose data or users changed; a period left without tasks is
    deleted (post-hook). Never fully refreshed: periods whose raw rows were purged by retention
    are kept. #}
with tasks as (
    select * from {{ ref('task_executions') }}
),

users as (
    select * from {{ ref('users') }}
),

all_task_periods as (
    select
        tasks.*,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'tasks.start_date') }}
            as period_start
    from tasks
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
),

{% if is_incremental() %}
changed_organizations as (
    select organizations.organization_id
    from {{ ref('stg_platform__organizations') }} as organizations
    where organizations.batch_id > {{ previous_watermark() }}
    union
    select user_rows.organization_id
    from {{ ref('stg_platform__users') }} as user_rows
    where user_rows.batch_id > {{ previous_watermark() }}
),

affected_days as (
    select
        changed.organization_id,
        changed.start_date
    from ({{ changed_task_versions() }}) as changed
    union
    select
        tasks.organization_id,
        tasks.start_date
    from tasks
    where
        tasks.built_at > {{ previous_build_time() }}
        or tasks.organization_id in (
            select changed_organizations.organization_id from changed_organizations
        )
),

candidate_keys as (
    select distinct
        affected_days.organization_id,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'affected_days.start_date') }}
            as period_start
    from affected_days
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
),

period_keys as (
    {{ without_purged_periods('candidate_keys', ['organization_id'], 'tasks', 'affected_days') }}
),

{% else %}
period_keys as (
    select distinct
        organization_id,
        aggregation_period,
        period_start
    from all_task_periods
),

{% endif %}
task_periods as (
    select all_task_periods.*
    from all_task_periods
    inner join period_keys
        on {{ keys_match('all_task_periods', 'period_keys', period_key) }}
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

period_day_money as (
    select
        organization_id,
        aggregation_period,
        period_start,
        start_date,
        round(coalesce(sum(cost_usd) filter (where status = 'completed'), 0), 2)
            as cost_cents,
        round(coalesce(sum(baseline_cost_usd) filter (where status = 'completed'), 0), 2)
            as baseline_cents,
        round(coalesce(sum(savings_usd) filter (where status = 'completed'), 0), 2)
            as savings_cents
    from task_periods
    group by organization_id, aggregation_period, period_start, start_date
),

period_money as (
    select
        organization_id,
        aggregation_period,
        period_start,
        sum(cost_cents) as total_cost_usd,
        sum(baseline_cents) as total_baseline_cost_usd,
        sum(savings_cents) as total_savings_usd
    from period_day_money
    group by organization_id, aggregation_period, period_start
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
        coalesce(period_tasks.active_developers, 0)::integer as active_developers,
        coalesce(period_money.total_cost_usd, 0)::numeric(10, 2) as total_cost_usd,
        coalesce(period_money.total_baseline_cost_usd, 0)::numeric(10, 2)
            as total_baseline_cost_usd,
        coalesce(period_money.total_savings_usd, 0)::numeric(10, 2) as total_savings_usd,
        case
            when period_tasks.baseline_exact != 0
                then
                    round(100 * period_tasks.savings_exact / period_tasks.baseline_exact, 2)
        end::numeric(7, 2) as savings_percentage,
        provider_breakdown.provider_usage,
        provider_breakdown.provider_costs,
        task_type_breakdown.task_type_distribution,
        {{ current_watermark() }} as built_from_batch_id,
        {{ run_started_at_literal() }} as built_at,
        {{ run_started_at_literal() }} as created_at
    from period_keys
    left join period_tasks
        on {{ keys_match('period_keys', 'period_tasks', period_key) }}
    left join period_money
        on {{ keys_match('period_keys', 'period_money', period_key) }}
    left join provider_breakdown
        on {{ keys_match('period_keys', 'provider_breakdown', period_key) }}
    left join task_type_breakdown
        on {{ keys_match('period_keys', 'task_type_breakdown', period_key) }}
    left join developers
        on {{ keys_match('period_keys', 'developers', period_key) }}
)

select * from final
