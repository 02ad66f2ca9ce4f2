with source as (
    select * from {{ source('platform', 'teams') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['coalesce(updated_at, created_at)']) }} as version_rank
    from source
),

final as (
    select
        id as team_id,
        organization_id,
        name as team_name,
        created_at,
        updated_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
