{{ config(alias='organization_daily') }}

{#- Each organization's day, for the support team: counts and money only, the organization
    named by its pseudonym (a keyed hash, privacy.pseudonymize; the key is never in the
    project), nothing about any person. -#}
with daily as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
),

organizations as (
    select * from {{ ref('organizations') }}
),

final as (
    select
        privacy.pseudonymize(daily.organization_id) as organization_pseudonym,
        organizations.pricing_tier,
        daily.metric_date,
        daily.total_tasks,
        daily.completed_tasks,
        daily.failed_tasks,
        daily.timed_out_tasks,
        daily.active_developers,
        daily.total_cost_usd,
        daily.total_baseline_cost_usd,
        daily.total_savings_usd,
        daily.savings_percentage,
        daily.provider_usage,
        daily.task_type_distribution
    from daily
    left join organizations
        on daily.organization_id = organizations.id
)

select * from final
