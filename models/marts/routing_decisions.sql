{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} as orphan "
            ~ "where orphan.task_execution_id in ("
            ~ "select newest.task_execution_id "
            ~ "from {{ ref('stg_platform__task_executions') }} as newest "
            ~ "where newest.last_batch_id > {{ watermark_before_this_run() }}) "
            ~ "and not exists (select 1 from {{ ref('task_executions') }} as tasks "
            ~ "where tasks.id = orphan.task_execution_id)"
        ],
    )
}}

-- depends_on: {{ ref('int_batch_watermark') }}
-- depends_on: {{ ref('stg_platform__task_executions') }}

{# Routing decisions of the tasks in the marts (decisions of quarantined or never-delivered
    tasks stay out, like their tasks), with prediction errors = predicted - actual.
    Incremental: rebuilds every decision of a task whose decisions changed or that was
    rebuilt since the last build (so is_latest_for_task is decided over all of the task's
    decisions); decisions of tasks that left the marts are deleted (post-hook; only tasks
    with a version since the previous build can have left). #}
-- not materialized: read by several selects below, each of which narrows it by an index
with decisions as not materialized (
    select * from {{ ref('stg_platform__routing_decisions') }}
),

tasks as not materialized (
    select * from {{ ref('task_executions') }}
),

{% if is_incremental() %}
changed_decisions as (
    select
        decisions.routing_decision_id,
        decisions.task_execution_id
    from decisions
    where decisions.last_batch_id > {{ previous_watermark() }}
),

tasks_to_refresh as (
    select changed_decisions.task_execution_id from changed_decisions
    union
    select previous_build.task_execution_id from {{ this }} as previous_build
    where
        previous_build.id = any(array(
            select changed_decisions.routing_decision_id from changed_decisions
        ))
    union
    select tasks.id from tasks
    where tasks.built_at > {{ previous_build_time() }}
),

selected_decisions as (
    select decisions.*
    from decisions
    where decisions.task_execution_id = any(array(
        select tasks_to_refresh.task_execution_id from tasks_to_refresh
    ))
),

{% else %}
selected_decisions as (
    select * from decisions
),

{% endif %}

final as (
    select
        picked.routing_decision_id as id,
        picked.task_execution_id,
        picked.chosen_provider::varchar(100) as chosen_provider,
        picked.decided_at as decision_timestamp,
        picked.alternative_providers,
        picked.routing_algorithm_version::varchar(50) as routing_algorithm_version,
        picked.decision_factors,
        picked.predicted_cost_usd::numeric(10, 6) as predicted_cost,
        picked.predicted_duration_ms::integer as predicted_duration_ms,
        picked.predicted_quality_score::numeric(5, 2) as predicted_quality_score,
        picked.actual_cost_usd::numeric(10, 6) as actual_cost,
        picked.actual_duration_ms::integer as actual_duration_ms,
        picked.actual_quality_score::numeric(5, 2) as actual_quality_score,
        picked.created_at,
        (picked.predicted_cost_usd - picked.actual_cost_usd)::numeric(10, 6)
            as cost_prediction_error,
        picked.predicted_duration_ms - picked.actual_duration_ms
            as duration_prediction_error_ms,
        (picked.predicted_quality_score - picked.actual_quality_score)::numeric(6, 2)
            as quality_prediction_error,
        row_number() over (
            partition by picked.task_execution_id
            order by picked.decided_at desc, picked.routing_decision_id desc
        ) = 1 as is_latest_for_task,
        {{ current_watermark() }} as built_from_batch_id,
        {{ run_started_at_literal() }} as built_at
    from selected_decisions as picked
    inner join tasks
        on picked.task_execution_id = tasks.id
)

select * from final
