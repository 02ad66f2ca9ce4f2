with source as (
    select * from {{ source('platform', 'provider_pricing') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['created_at']) }} as version_rank
    from source
),

final as (
    select
        id as provider_pricing_id,
        lower(trim(provider)) as provider,
        lower(trim(task_type)) as task_type,
        lower(trim(pricing_tier)) as pricing_tier,
        cost_per_token,
        cost_per_request,
        cost_per_minute,
        effective_from,
        effective_until,
        effective_until is null as is_open_ended,
        coalesce(effective_until <= effective_from, false) as has_empty_window,
        created_at,
        notes,
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
