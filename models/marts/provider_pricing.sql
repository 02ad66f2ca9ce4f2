with pricing as (
    select * from {{ ref('stg_platform__provider_pricing') }}
),

final as (
    select
        provider_pricing_id as id,
        provider::varchar(100) as provider,
        task_type::varchar(100) as task_type,
        cost_per_token::numeric(10, 8) as cost_per_token,
        cost_per_request::numeric(10, 6) as cost_per_request,
        cost_per_minute::numeric(10, 6) as cost_per_minute,
        pricing_tier::varchar(50) as pricing_tier,
        effective_from,
        effective_until,
        created_at,
        notes
    from pricing
)

select * from final
