with source as (
    select * from {{ source('platform', 'routing_decisions') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['created_at']) }} as version_rank,
        count(*) over (partition by id) as version_count,
        max(_batch_id) over (partition by id) as last_batch_id
    from source
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
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
