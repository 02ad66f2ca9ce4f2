with costs as (
    select * from {{ ref('int_task_costs') }}
),

final as (
    select
        task_execution_id as id,
        task_id::varchar(255) as task_id,
        user_id,
        organization_id,
        task_type::varchar(100) as task_type,
        task_description,
        code_language::varchar(50) as code_language,
        provider::varchar(100) as provider,
        routing_reason,
        alternative_providers,
        started_at as start_time,
        ended_at as end_time,
        duration_ms::integer as duration_ms,
        tokens_used::integer as tokens_used,
        cost_usd::numeric(10, 6) as cost_usd,
        baseline_cost_usd::numeric(10, 6) as baseline_cost_usd,
        savings_usd::numeric(10, 6) as savings_usd,
        effective_status::varchar(50) as status,
        error_message,
        created_at,
        updated_at,
        status::varchar(50) as reported_status,
        cost_source,
        pricing_id,
        baseline_provider,
        baseline_source,
        baseline_pricing_id,
        {{ utc_date('started_at') }} as start_date,
        batch_id,
        version_count
    from costs
)

select * from final
