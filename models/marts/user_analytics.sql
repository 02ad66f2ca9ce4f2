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
-- depends_on: {{ ref('int_batch_watermark') }}

{% set period_key = ['user_id', 'aggregation_period', 'period_start'] %}

{# Per user and period (daily, weekly, monthly): tasks started (any status), and completed
    tasks' duration, cost and savings. Incremental like organization_analytics: rebuilds the
    periods of changed and open tasks, deletes periods left without tasks, never fully
    refreshed. #}
with tasks as (
    select * from {{ ref('task_executions') }}
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
affected_days as (
    select
        changed.user_id,
        changed.start_date
    from ({{ changed_task_versions() }}) as changed
    union
    select
        user_id,
        start_date
    from tasks
    where
        built_at > {{ previous_build_time() }}
),

candidate_keys as (
    select distinct
        affected_days.user_id,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'affected_days.start_date') }}
            as period_start
    from affected_days
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
),

period_keys as (
    {{ without_purged_periods('candidate_keys', ['user_id'], 'tasks', 'affected_days') }}
),

{% else %}
period_keys as (
    select distinct
        user_id,
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
        {{ current_watermark() }} as built_from_batch_id,
        {{ run_started_at_literal() }} as built_at,
        {{ run_started_at_literal() }} as created_at
    from period_keys
    left join period_tasks
        on {{ keys_match('period_keys', 'period_tasks', period_key) }}
    left join provider_breakdown
        on {{ keys_match('period_keys', 'provider_breakdown', period_key) }}
    left join task_type_breakdown
        on {{ keys_match('period_keys', 'task_type_breakdown', period_key) }}
)

select * from final
