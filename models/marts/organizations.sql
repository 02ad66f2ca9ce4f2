with organizations as (
    select * from {{ ref('stg_platform__organizations') }}
),

final as (
    select
        organization_id as id,
        organization_name as name,
        pricing_tier,
        default_provider,
        {{ baseline_provider('default_provider') }} as baseline_provider,
        retention_days,
        created_at,
        updated_at
    from organizations
)

select * from final
