{#- Every task's newest version with its organization's tier, default and baseline provider, and the
    hard rule it breaks first (quarantine_reason), or null when it breaks none. -#}
with executions as (
    select * from {{ ref('stg_platform__task_executions') }}
),

organizations as (
    select * from {{ ref('stg_platform__organizations') }}
),

users as (
    select * from {{ ref('stg_platform__users') }}
),

joined as (
    select
        executions.*,
        organizations.pricing_tier,
        organizations.default_provider,
        {{ baseline_provider('organizations.default_provider') }} as baseline_provider,
        organizations.organization_id is not null as has_known_organization,
        users.user_id is not null as has_known_user
    from executions
    left join organizations
        on executions.organization_id = organizations.organization_id
    left join users
        on executions.user_id = users.user_id
),

final as (
    select
        *,
        case
            when has_unknown_status then 'unknown_status'
            when has_negative_reported_cost then 'negative_cost'
            when has_end_before_start then 'end_before_start'
            when is_completed_without_end then 'completed_without_end'
            when not has_known_organization then 'unknown_organization'
            when not has_known_user then 'unknown_user'
        end as quarantine_reason
    from joined
)

select * from final
