{{
    config(
        materialized='incremental',
        unique_key='routing_decision_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['routing_decision_id'], 'unique': true},
            {'columns': ['task_execution_id']},
            {'columns': ['last_batch_id']},
            {'columns': ['built_at']},
        ],
    )
}}

{#- Newest version of each routing decision (by created_at, then load order). A table ranking
    only the versions of decisions that received one since the previous build, like
    stg_platform__task_executions. -#}
-- not materialized: versions_to_rank reads it twice, each time narrowed by an index
with source as not materialized (
    select * from {{ source('platform', 'routing_decisions') }}
),

decision_versions as (
    {{ versions_to_rank('source') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['created_at']) }} as version_rank,
        count(*) over (partition by id) as version_count,
        max(_batch_id) over (partition by id) as last_batch_id
    from decision_versions
),

final as (
    select
        id as routing_decision_id,
        task_execution_id,
        lower(trim(chosen_provider)) as chosen_provider,
        decision_timestamp as decided_at,
        alternative_providers,
        routing_algorithm_version,
        decision_factors,
        predicted_cost as predicted_cost_usd,
        predicted_duration_ms,
        predicted_quality_score,
        actual_cost as actual_cost_usd,
        actual_duration_ms,
        actual_quality_score,
        created_at,
        version_count,
        last_batch_id,
        {{ run_started_at_literal() }} as built_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
