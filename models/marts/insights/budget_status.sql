{#- Each budget (int_budgets_checked without the quarantined ones: an organization's, or a
    team's) against its month's spend, as of the build's as_of (docs/insights.md). Spent is the
    marts' cost of completed tasks in the month so far: organization_analytics' monthly row for
    an organization, the sum of user_analytics' monthly rows of the team's current members for
    a team. The month-end forecast of the current month is the month_end_forecast method's
    (analytics.savings_forecast for an organization; the same macro over the team's days for a
    team), never below what is already spent; a past month's is its spend, a future month has
    none. threshold_reached is the highest of the budget_alert_percentages reached. -#}
{%- set thresholds = var('budget_alert_percentages') | sort %}
with budgets as (
    select * from {{ ref('int_budgets_checked') }}
    where quarantine_reason is null
),

as_of_day as (
    select
        {{ utc_date(as_of()) }} as as_of_date,
        date_trunc('month', {{ utc_date(as_of()) }})::date as current_month_start
),

members as (
    select
        id as user_id,
        team_id
    from {{ ref('users') }}
    where team_id is not null
),

-- not materialized: each reader narrows it (days since the forecast window, budgeted months)
user_periods as not materialized (
    select
        members.team_id,
        user_analytics.aggregation_period,
        user_analytics.metric_date,
        user_analytics.total_cost_usd,
        user_analytics.total_savings_usd
    from {{ ref('user_analytics') }} as user_analytics
    inner join members
        on user_analytics.user_id = members.user_id
),

team_days as (
    select
        team_id,
        metric_date,
        sum(total_cost_usd) as total_cost_usd,
        sum(total_savings_usd) as total_savings_usd
    from user_periods
    where
        aggregation_period = 'daily'
        and team_id in (select budgets.team_id from budgets)
        -- the forecast reads the month so far and the forecast_history_days before as_of:
        -- the team's older days are not read, so the cost does not grow with history
        and metric_date >= (
            select as_of_day.current_month_start - {{ var('forecast_history_days') }}
            from as_of_day
        )
    group by team_id, metric_date
),

team_months as (
    select
        team_id,
        metric_date as month_start,
        round(sum(total_cost_usd), 2) as spent_usd
    from user_periods
    where aggregation_period = 'monthly'
    group by team_id, metric_date
),

organization_months as (
    select
        organization_id,
        metric_date as month_start,
        total_cost_usd as spent_usd
    from {{ ref('organization_analytics') }}
    where aggregation_period = 'monthly'
),

team_points as (
    select distinct
        budgets.team_id,
        as_of_day.as_of_date as forecast_date
    from budgets
    cross join as_of_day
    where
        budgets.team_id is not null
        and budgets.month_start = as_of_day.current_month_start
        and budgets.team_id in (select team_days.team_id from team_days)
),

team_forecasts as (
    {{ month_end_forecast('team_points', key='team_id', daily='team_days') }}
),

organization_forecasts as (
    select * from {{ ref('savings_forecast') }}
),

spend as (
    select
        budgets.*,
        as_of_day.as_of_date,
        case
            when budgets.month_start < as_of_day.current_month_start then 'past'
            when budgets.month_start = as_of_day.current_month_start then 'current'
            else 'future'
        end as month_status,
        coalesce(team_months.spent_usd, organization_months.spent_usd, 0) as spent_usd,
        coalesce(team_forecasts.forecast_cost_usd, organization_forecasts.forecast_cost_usd)
            as forecast_cost_usd
    from budgets
    cross join as_of_day
    left join team_months
        on
            budgets.team_id = team_months.team_id
            and budgets.month_start = team_months.month_start
    left join organization_months
        on
            budgets.team_id is null
            and budgets.organization_id = organization_months.organization_id
            and budgets.month_start = organization_months.month_start
    left join team_forecasts
        on
            budgets.team_id = team_forecasts.team_id
            and budgets.month_start = team_forecasts.month_start
    left join organization_forecasts
        on
            budgets.team_id is null
            and budgets.organization_id = organization_forecasts.organization_id
            and budgets.month_start = organization_forecasts.month_start
),

forecast as (
    select
        *,
        case month_status
            when 'past' then spent_usd
            when 'current' then greatest(forecast_cost_usd, spent_usd)
        end as forecast_spend_usd
    from spend
),

final as (
    select
        budget_id,
        organization_id,
        team_id,
        budget_scope,
        month_start,
        month_status,
        as_of_date,
        amount_usd as budget_usd,
        spent_usd,
        round(100 * spent_usd / amount_usd, 2) as spent_percentage,
        forecast_spend_usd,
        round(100 * forecast_spend_usd / amount_usd, 2) as forecast_percentage,
        case
            {%- for threshold in thresholds | reverse %}
            when 100 * spent_usd >= {{ threshold }} * amount_usd then {{ threshold }}
            {%- endfor %}
        end as threshold_reached,
        coalesce(forecast_spend_usd > amount_usd, false) as is_forecast_over_budget,
        updated_at as budget_updated_at
    from forecast
)

select * from final
