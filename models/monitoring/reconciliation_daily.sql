{#- Per organization and UTC day: the tasks the raw layer holds (newest versions) against what
    the marts show, like for like: every raw task is either in analytics.task_executions or
    in quarantine, the daily rollup counts every mart task, and its cost is the completed
    tasks' cost in cents. Every difference column must be zero after a build. -#}
with raw_tasks as (
    select * from {{ ref('int_task_executions_checked') }}
),

mart_tasks as (
    select * from {{ ref('task_executions') }}
),

daily_rollups as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
),

raw_side as (
    select
        organization_id,
        {{ utc_date('started_at') }} as metric_date,
        count(*) as raw_tasks,
        count(*) filter (where quarantine_reason is not null) as quarantined_tasks
    from raw_tasks
    group by organization_id, metric_date
),

mart_side as (
    select
        organization_id,
        start_date as metric_date,
        count(*) as mart_tasks,
        {{ cents(completed_sum('cost_usd')) }} as mart_cost_usd
    from mart_tasks
    group by organization_id, start_date
),

final as (
    select
        raw_side.organization_id,
        raw_side.metric_date,
        raw_side.raw_tasks,
        raw_side.quarantined_tasks,
        coalesce(mart_side.mart_tasks, 0) as mart_tasks,
        coalesce(daily_rollups.total_tasks, 0) as rollup_tasks,
        coalesce(mart_side.mart_cost_usd, 0) as mart_cost_usd,
        coalesce(daily_rollups.total_cost_usd, 0) as rollup_cost_usd,
        raw_side.raw_tasks - raw_side.quarantined_tasks - coalesce(mart_side.mart_tasks, 0)
            as raw_vs_mart_task_difference,
        coalesce(mart_side.mart_tasks, 0) - coalesce(daily_rollups.total_tasks, 0)
            as mart_vs_rollup_task_difference,
        coalesce(mart_side.mart_cost_usd, 0) - coalesce(daily_rollups.total_cost_usd, 0)
            as mart_vs_rollup_cost_difference
    from raw_side
    left join mart_side
        on
            raw_side.organization_id = mart_side.organization_id
            and raw_side.metric_date = mart_side.metric_date
    left join daily_rollups
        on
            raw_side.organization_id = daily_rollups.organization_id
            and raw_side.metric_date = daily_rollups.metric_date
)

select * from final
