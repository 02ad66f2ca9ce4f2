with users as (
    select * from {{ ref('stg_platform__users') }}
),

final as (
    select
        user_id as id,
        organization_id,
        team_id,
        user_name as name,
        email,
        role,
        created_at,
        updated_at,
        deleted_at,
        is_deleted
    from users
)

select * from final
