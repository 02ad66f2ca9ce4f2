with source as (
    select * from {{ source('platform', 'organizations') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['coalesce(updated_at, created_at)']) }} as version_rank
    from source
),

final as (
    select
        id as organization_id,
        name as organization_name,
        lower(trim(pricing_tier)) as pricing_tier,
        lower(trim(default_provider)) as default_provider,
        retention_days,
        created_at,
        updated_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
