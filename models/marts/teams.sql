with teams as (
    select * from {{ ref('stg_platform__teams') }}
),

final as (
    select
        team_id as id,
        organization_id,
        team_name as name,
        created_at,
        updated_at
    from teams
)

select * from final
