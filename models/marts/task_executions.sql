{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} as stale "
            ~ "using {{ ref('stg_platform__task_executions') }} as newest "
            ~ "where newest.task_execution_id = stale.id "
            ~ "and newest.last_batch_id > stale.built_from_batch_id "
            ~ "and newest.last_batch_id > {{ watermark_before_this_run() }}"
        ],
    )
}}

-- depends_on: {{ ref('int_task_executions_checked') }}
-- depends_on: {{ ref('stg_platform__task_executions') }}
-- depends_on: {{ ref('stg_platform__provider_pricing') }}
-- depends_on: {{ ref('stg_platform__organizations') }}
-- depends_on: {{ ref('stg_platform__users') }}
-- depends_on: {{ ref('int_batch_watermark') }}

{# Incremental: rebuilds the tasks that received a version since the previous build, the
    open tasks whose timed-out state moves with as_of, the tasks a new or corrected price or a
    changed organization or user can affect. Each reason is its own select, so that each can
    use an index and one with no change costs nothing. A task whose newest version now breaks
    a hard rule is not rebuilt and its previous row is removed (post-hook: a row older than
    its task's newest version). Without a previous build (or with --full-refresh), every
    task. #}
with costs as (
    select * from {{ ref('int_task_costs') }}
),

{% if is_incremental() %}
-- not materialized: read by several selects below, each of which narrows it by an index
checked as not materialized (
    select * from {{ ref('int_task_executions_checked') }}
),

changed_prices as (
    select * from {{ ref('stg_platform__provider_pricing') }}
    where batch_id > {{ previous_watermark() }}
),

changed_organizations as (
    select organizations.organization_id
    from {{ ref('stg_platform__organizations') }} as organizations
    where organizations.batch_id > {{ previous_watermark() }}
),

changed_users as (
    select user_rows.user_id
    from {{ ref('stg_platform__users') }} as user_rows
    where user_rows.batch_id > {{ previous_watermark() }}
),

to_rebuild as (
    select checked.task_execution_id from checked
    where checked.last_batch_id > {{ previous_watermark() }}
    union
    select checked.task_execution_id from checked
    inner join changed_organizations
        on checked.organization_id = changed_organizations.organization_id
    union
    select checked.task_execution_id from checked
    inner join changed_users
        on checked.user_id = changed_users.user_id
    union
    select checked.task_execution_id from checked
    inner join changed_prices
        on
            changed_prices.provider in (checked.provider, checked.baseline_provider)
            and checked.started_at >= changed_prices.effective_from
    union
    -- open tasks whose timed-out state as of this build differs from the stored one
    select previous_build.id from {{ this }} as previous_build
    where
        previous_build.reported_status in ('pending', 'running')
        and (previous_build.status = 'timed_out') != {{ is_timed_out(
            'previous_build.reported_status', 'previous_build.end_time',
            'previous_build.start_time') }}
    union
    select previous_build.id from {{ this }} as previous_build
    inner join changed_prices
        on previous_build.pricing_id = changed_prices.provider_pricing_id
    union
    select previous_build.id from {{ this }} as previous_build
    inner join changed_prices
        on previous_build.baseline_pricing_id = changed_prices.provider_pricing_id
),

-- `= any(array(...))`: the ids reach the index of the staging table under int_task_costs, where a
-- join would have PostgreSQL price every task first
selected_costs as (
    select costs.*
    from costs
    where
        costs.task_execution_id
        = any(array(select to_rebuild.task_execution_id from to_rebuild))
),

{% else %}
selected_costs as (
    select * from costs
),

{% endif %}

final as (
    select
        {{ task_execution_mart_columns() }},
        {{ current_watermark() }} as built_from_batch_id,
        {{ run_started_at_literal() }} as built_at
    from selected_costs
)

select * from final
