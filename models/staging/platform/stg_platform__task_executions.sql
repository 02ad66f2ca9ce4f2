{{
    config(
        materialized='incremental',
        unique_key='task_execution_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['task_execution_id'], 'unique': true},
            {'columns': ['last_batch_id']},
            {'columns': ['built_at']},
            {'columns': ['started_at']},
        ],
    )
}}

{#- Newest version of each task execution. Versions are ordered by updated_at; among versions
    with the same updated_at, the later lifecycle status wins (a completion beats the running
    row it closes), then the later load. A table, not a view: each build ranks only the
    versions of the tasks that received a version since the previous build (all of their
    versions, found through the raw (id, updated_at) index), so its cost follows new data. -#}
-- not materialized: versions_to_rank reads it twice, each time narrowed by an index
with source as not materialized (
    select * from {{ source('platform', 'task_executions') }}
),

task_versions as (
    {{ versions_to_rank('source') }}
),

versioned as (
    select
        *,
        lower(trim(status)) as normalized_status,
        {{ status_lifecycle_rank('lower(trim(status))') }} as status_rank
    from task_versions
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['updated_at', 'status_rank']) }} as version_rank,
        count(*) over (partition by id) as version_count,
        min(_loaded_at) over (partition by id) as first_loaded_at,
        max(_batch_id) over (partition by id) as last_batch_id
    from versioned
),

latest as (
    select * from ranked
    where version_rank = 1
),

final as (
    select
        id as task_execution_id,
        task_id,
        user_id,
        organization_id,
        lower(trim(task_type)) as task_type,
        task_description,
        lower(trim(code_language)) as code_language,
        lower(trim(provider)) as provider,
        routing_reason,
        alternative_providers,
        start_time as started_at,
        end_time as ended_at,
        case
            when end_time is not null and end_time >= start_time
                then round(extract(epoch from end_time - start_time) * 1000)::bigint
        end as duration_ms,
        duration_ms as reported_duration_ms,
        coalesce(tokens_used, 0) as tokens_used,
        cost_usd as reported_cost_usd,
        baseline_cost_usd as reported_baseline_cost_usd,
        savings_usd as reported_savings_usd,
        normalized_status as status,
        error_message,
        created_at,
        updated_at,
        version_count,
        first_loaded_at,
        last_batch_id,
        {{ run_started_at_literal() }} as built_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id,
        normalized_status not in ('pending', 'running', 'completed', 'failed')
            as has_unknown_status,
        coalesce(cost_usd < 0, false) as has_negative_reported_cost,
        cost_usd is null as is_missing_reported_cost,
        coalesce(end_time < start_time, false) as has_end_before_start,
        normalized_status = 'completed' and end_time is null as is_completed_without_end
    from latest
)

select * from final
