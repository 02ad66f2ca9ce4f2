with source as (
    select * from {{ source('platform', 'retention_purged_days') }}
),

final as (
    select
        organization_id,
        user_id,
        provider,
        task_type,
        start_date,
        run_id
    from source
)

select * from final
