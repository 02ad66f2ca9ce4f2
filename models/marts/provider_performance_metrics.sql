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
-- depends_on: {{ ref('stg_platform__routing_decisions') }}
-- depends_on: {{ ref('int_batch_watermark') }}

{% set period_key = ['provider', 'task_type', 'aggregation_period', 'period_start_local'] %}

{# Per provider, task type and period (hourly, daily, weekly, monthly) over finished tasks:
    total = completed + failed (timed-out and unfinished tasks are excluded); durations, cost
    and tokens over completed tasks; quality from each completed task's newest routing
    decision. Money is cents: an hour or a day rounds its exact sum, a week or a month is the
    sum of its days. Incremental like organization_analytics (changed and open tasks, tasks
    whose routing decisions changed), never fully refreshed. #}
with tasks as (
    select * from {{ ref('task_executions') }}
),

decisions as (
    select * from {{ ref('routing_decisions') }}
    where is_latest_for_task
),

finished_tasks as (
    select
        tasks.*,
        decisions.actual_quality_score
    from tasks
    left join decisions
        on tasks.id = decisions.task_execution_id
    where tasks.status in ('completed', 'failed')
),

all_task_periods as (
    select
        finished_tasks.*,
        period_kinds.aggregation_period,
        case
            when period_kinds.aggregation_period = 'hourly'
                then date_trunc('hour', finished_tasks.start_time at time zone 'utc')
            else
                {{ period_start_date('period_kinds.aggregation_period',
                    'finished_tasks.start_date') }}
        end as period_start_local
    from finished_tasks
    cross join {{ period_kinds(['hourly', 'daily', 'weekly', 'monthly']) }}
),

{% if is_incremental() %}
changed_decisions as (
    select decisions_changed.task_execution_id
    from {{ ref('stg_platform__routing_decisions') }} as decisions_changed
    where decisions_changed.last_batch_id > {{ previous_watermark() }}
),

affected_days as (
    select
        changed.provider,
        changed.task_type,
        changed.start_date
    from ({{ changed_task_versions() }}) as changed
    union
    select
        tasks.provider,
        tasks.task_type,
        tasks.start_date
    from tasks
    where
        tasks.built_at > {{ previous_build_time() }}
        or tasks.id in (select changed_decisions.task_execution_id from changed_decisions)
),

candidate_keys as (
    select distinct
        affected_days.provider,
        affected_days.task_type,
        period_kinds.aggregation_period,
        ({{ period_start_date('period_kinds.aggregation_period', 'affected_days.start_date') }})
        ::timestamp as period_start_local
    from affected_days
    cross join {{ period_kinds(['daily', 'weekly', 'monthly']) }}
    union
    select distinct
        affected_days.provider,
        affected_days.task_type,
        'hourly' as aggregation_period,
        hours.hour_start as period_start_local
    from affected_days
    cross join lateral generate_series(
        affected_days.start_date::timestamp,
        affected_days.start_date::timestamp + interval '23 hours',
        interval '1 hour'
    ) as hours (hour_start)
),

period_keys as (
    {{ without_purged_periods('candidate_keys', ['provider', 'task_type'], 'finished_tasks',
        'affected_days', start_column='period_start_local') }}
),

{% else %}
period_keys as (
    select distinct
        provider,
        task_type,
        aggregation_period,
        period_start_local
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
        avg(cost_usd) filter (where status = 'completed') as avg_cost_usd,
        coalesce(sum(tokens_used) filter (where status = 'completed'), 0) as total_tokens,
        avg(actual_quality_score) filter (where status = 'completed') as avg_quality_score
    from task_periods
    group by provider, task_type, aggregation_period, period_start_local
),

period_day_cost as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start_local,
        start_date,
        round(coalesce(sum(cost_usd) filter (where status = 'completed'), 0), 2)
            as cost_cents
    from task_periods
    group by provider, task_type, aggregation_period, period_start_local, start_date
),

period_cost as (
    select
        provider,
        task_type,
        aggregation_period,
        period_start_local,
        sum(cost_cents) as total_cost_usd
    from period_day_cost
    group by provider, task_type, aggregation_period, period_start_local
),

final as (
    select
        {{ surrogate_uuid(['period_keys.provider', 'period_keys.task_type',
            'period_keys.period_start_local', 'period_keys.aggregation_period']) }} as id,
        period_keys.provider::varchar(100) as provider,
        period_keys.task_type::varchar(100) as task_type,
        period_keys.period_start_local::date as metric_date,
        period_keys.aggregation_period::varchar(20) as aggregation_period,
        period_keys.period_start_local at time zone 'utc' as period_start,
        {{ period_end('period_keys.aggregation_period', 'period_keys.period_start_local') }}
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
        coalesce(period_cost.total_cost_usd, 0)::numeric(10, 2) as total_cost_usd,
        round(period_tasks.avg_cost_usd, 6)::numeric(10, 6) as avg_cost_usd,
        coalesce(period_tasks.total_tokens, 0)::bigint as total_tokens,
        round(period_tasks.avg_quality_score, 2)::numeric(5, 2) as avg_quality_score,
        {{ current_watermark() }} as built_from_batch_id,
        {{ run_started_at_literal() }} as built_at,
        {{ run_started_at_literal() }} as created_at
    from period_keys
    left join period_tasks
        on {{ keys_match('period_keys', 'period_tasks', period_key) }}
    left join period_cost
        on {{ keys_match('period_keys', 'period_cost', period_key) }}
)

select * from final
