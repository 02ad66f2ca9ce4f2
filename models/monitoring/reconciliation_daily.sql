{{
    config(
        materialized='incremental',
        unique_key=['organization_id', 'metric_date'],
        incremental_strategy='delete+insert',
        post_hook=[
            "delete from {{ this }} where raw_tasks = 0",
            "{{ record_build_watermark() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_batch_watermark') }}
-- depends_on: {{ ref('stg_platform__task_execution_versions') }}

{#- Per organization and UTC day: the tasks the raw layer holds (newest versions) against what
    the marts show, like for like: every raw task is either in analytics.task_executions or
    in quarantine, the daily rollup counts every mart task, and its cost is the completed
    tasks' cost in cents. Every difference column must be zero after a build.
    Incremental: only the days a change since the previous build can touch are computed again
    (the start days of every version of the tasks with a new version, of the tasks and daily
    rollup rows rebuilt since); an organization left without tasks on such a day is deleted
    (post-hook). -#}
-- not materialized: each is read narrowed to the affected days, through an index
with raw_tasks as not materialized (
    select * from {{ ref('int_task_executions_checked') }}
),

mart_tasks as not materialized (
    select * from {{ ref('task_executions') }}
),

daily_rollups as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
),

{% if is_incremental() -%}
affected_days as (
    select changed.start_date as metric_date
    from ({{ changed_task_versions(stored_watermark()) }}) as changed
    union
    select mart_tasks.start_date from mart_tasks
    where mart_tasks.built_at > {{ stored_build_time() }}
    union
    select daily_rollups.metric_date from daily_rollups
    where daily_rollups.built_at > {{ stored_build_time() }}
),

-- each day's newest versions read through the staging start-time index (lateral, kept apart
-- by offset 0: a planner fence that skips no row, so no order by; noqa for AM09)
raw_of_days as (
    select day_tasks.*
    from affected_days
    cross join lateral (
        select raw_tasks.* from raw_tasks
        where
            raw_tasks.started_at >= {{ utc_midnight('affected_days.metric_date') }}
            and raw_tasks.started_at < {{ utc_midnight('(affected_days.metric_date + 1)') }}
        offset 0 -- noqa: AM09
    ) as day_tasks
),

{% endif -%}
raw_side as (
    select
        organization_id,
        {{ utc_date('started_at') }} as metric_date,
        count(*) as raw_tasks,
        count(*) filter (where quarantine_reason is not null) as quarantined_tasks
    from {% if is_incremental() %}raw_of_days{% else %}raw_tasks{% endif %}
    group by organization_id, metric_date
),

mart_side as (
    select
        mart_tasks.organization_id,
        mart_tasks.start_date as metric_date,
        count(*) as mart_tasks,
        {{ cents(completed_sum('mart_tasks.cost_usd')) }} as mart_cost_usd
    from mart_tasks
    {%- if is_incremental() %}
    where mart_tasks.start_date = any(array(select affected_days.metric_date from affected_days))
    {%- endif %}
    group by mart_tasks.organization_id, mart_tasks.start_date
),

-- the rows to write: every organization and day of the raw side and, on an incremental
-- build, the stored rows of the affected days (one whose tasks all left gets raw_tasks 0)
row_keys as (
    select
        raw_side.organization_id,
        raw_side.metric_date
    from raw_side
    {%- if is_incremental() %}
    union
    select
        previous_build.organization_id,
        previous_build.metric_date
    from {{ this }} as previous_build
    where
        previous_build.metric_date
        = any(array(select affected_days.metric_date from affected_days))
    {%- endif %}
),

final as (
    select
        row_keys.organization_id,
        row_keys.metric_date,
        coalesce(raw_side.raw_tasks, 0) as raw_tasks,
        coalesce(raw_side.quarantined_tasks, 0) as quarantined_tasks,
        coalesce(mart_side.mart_tasks, 0) as mart_tasks,
        coalesce(daily_rollups.total_tasks, 0) as rollup_tasks,
        coalesce(mart_side.mart_cost_usd, 0) as mart_cost_usd,
        coalesce(daily_rollups.total_cost_usd, 0) as rollup_cost_usd,
        coalesce(raw_side.raw_tasks, 0) - coalesce(raw_side.quarantined_tasks, 0)
        - coalesce(mart_side.mart_tasks, 0) as raw_vs_mart_task_difference,
        coalesce(mart_side.mart_tasks, 0) - coalesce(daily_rollups.total_tasks, 0)
            as mart_vs_rollup_task_difference,
        coalesce(mart_side.mart_cost_usd, 0) - coalesce(daily_rollups.total_cost_usd, 0)
            as mart_vs_rollup_cost_difference,
        {{ run_started_at_literal() }} as built_at
    from row_keys
    left join raw_side
        on
            row_keys.organization_id = raw_side.organization_id
            and row_keys.metric_date = raw_side.metric_date
    left join mart_side
        on
            row_keys.organization_id = mart_side.organization_id
            and row_keys.metric_date = mart_side.metric_date
    left join daily_rollups
        on
            row_keys.organization_id = daily_rollups.organization_id
            and row_keys.metric_date = daily_rollups.metric_date
)

select * from final
