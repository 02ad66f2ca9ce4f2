{{ config(meta={'dagster': {'ref': {'name': 'organizations'}}}) }}
-- Every organization's baseline provider (its default_provider, else the var
-- baseline_provider) is a provider of the catalogue that may serve as a baseline.
with organizations as (
    select * from {{ ref('organizations') }}
),

providers as (
    select * from {{ ref('providers') }}
),

final as (
    select
        organizations.id as organization_id,
        organizations.baseline_provider
    from organizations
    left join providers
        on organizations.baseline_provider = providers.provider_id
    where not coalesce(providers.can_be_baseline, false)
)

select * from final
