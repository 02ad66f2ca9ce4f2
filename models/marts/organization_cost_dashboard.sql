{#- The correct form of the spec's query 3.1: one row per organization and month with the
    month's totals and its savings percentage computed from the month's sums (the spec
    averages daily percentages, which weighs a quiet day like a busy one). -#}
with monthly as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'monthly'
),

organizations as (
    select * from {{ ref('organizations') }}
),

final as (
    select
        monthly.organization_id,
        organizations.name as organization_name,
        monthly.metric_date as month_start,
        monthly.total_tasks,
        monthly.completed_tasks,
        monthly.total_cost_usd,
        monthly.total_baseline_cost_usd,
        monthly.total_savings_usd,
        monthly.savings_percentage,
        organizations.baseline_provider
    from monthly
    inner join organizations
        on monthly.organization_id = organizations.id
)

select * from final
