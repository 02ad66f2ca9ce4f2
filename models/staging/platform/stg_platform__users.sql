with source as (
    select * from {{ source('platform', 'users') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['coalesce(updated_at, created_at)']) }} as version_rank
    from source
),

final as (
    select
        id as user_id,
        organization_id,
        team_id,
        name as user_name,
        lower(trim(email)) as email,
        lower(trim(role)) as role,
        created_at,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at as loaded_at,
        _batch_id as batch_id
    from ranked
    where version_rank = 1
)

select * from final
