{#- The specification's ROI calculator: per organization and month, the savings against the
    platform's fee. The fee is the organization's tier's fee per developer (seed pricing_tiers)
    or its override (var platform_fee_overrides: organization id -> USD per developer and
    month), times the month's developers (total_developers: the organization's users during
    the month, the seats it pays for). ROI % = 100 x (savings - fee) / fee. The payback month
    is the first month whose cumulative savings cover the cumulative fees. Months are those of
    organization_analytics' monthly rows (a month without tasks has no row). -#}
with monthly as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'monthly'
),

organizations as (
    select * from {{ ref('organizations') }}
),

tiers as (
    select * from {{ ref('pricing_tiers') }}
),

{% set overrides = var('platform_fee_overrides') or {} -%}
overrides as (
    {%- if overrides %}
    select
        override.organization_id::uuid as organization_id,
        override.platform_fee_per_developer_usd::numeric(10, 2) as platform_fee_per_developer_usd
    from (values
        {%- for organization_id, fee in overrides.items() %}
        ('{{ organization_id }}', '{{ fee }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as override (organization_id, platform_fee_per_developer_usd)
    {%- else %}
    select
        null::uuid as organization_id,
        null::numeric(10, 2) as platform_fee_per_developer_usd
    where false
    {%- endif %}
),

fees as (
    select
        monthly.organization_id,
        monthly.metric_date as month_start,
        monthly.total_developers,
        monthly.active_developers,
        monthly.total_cost_usd,
        monthly.total_baseline_cost_usd,
        monthly.total_savings_usd,
        coalesce(
            overrides.platform_fee_per_developer_usd, tiers.platform_fee_per_developer_usd, 0
        ) as platform_fee_per_developer_usd,
        case
            when overrides.organization_id is not null then 'override'
            when tiers.pricing_tier is not null then 'tier'
            else 'none'
        end as fee_source
    from monthly
    inner join organizations
        on monthly.organization_id = organizations.id
    left join tiers
        on organizations.pricing_tier = tiers.pricing_tier
    left join overrides
        on monthly.organization_id = overrides.organization_id
),

benefits as (
    select
        *,
        platform_fee_per_developer_usd * total_developers as platform_fee_usd,
        total_savings_usd - platform_fee_per_developer_usd * total_developers as net_benefit_usd
    from fees
),

cumulative as (
    select
        *,
        sum(total_savings_usd) over history as cumulative_savings_usd,
        sum(platform_fee_usd) over history as cumulative_platform_fee_usd,
        sum(net_benefit_usd) over history as cumulative_net_benefit_usd
    from benefits
    window history as (partition by organization_id order by month_start)
),

final as (
    select
        organization_id,
        month_start,
        total_developers,
        active_developers,
        fee_source,
        platform_fee_per_developer_usd,
        platform_fee_usd,
        total_cost_usd,
        total_baseline_cost_usd,
        total_savings_usd,
        net_benefit_usd,
        round(100 * net_benefit_usd / nullif(platform_fee_usd, 0), 2) as roi_percentage,
        cumulative_savings_usd,
        cumulative_platform_fee_usd,
        cumulative_net_benefit_usd,
        min(month_start) filter (where cumulative_net_benefit_usd >= 0)
            over (partition by organization_id) as payback_month
    from cumulative
)

select * from final
