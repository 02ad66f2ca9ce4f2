{#- The month-end forecast (macro month_end_forecast, analytics.savings_forecast) made on
    every past day of the last forecast_backtest_months finished months of every
    organization with a full history behind it, against what the month turned out to be: its
    absolute percentage error and whether the 95 % interval held the actual (docs/insights.md, "Forecast" and its backtest). -#}
with monthly as (
    select * from {{ ref('organization_analytics') }}
    where aggregation_period = 'monthly'
),

first_days as (
    select
        organization_id,
        min(metric_date) as first_day
    from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
    group by organization_id
),

points as (
    select
        monthly.organization_id,
        forecast_day::date as forecast_date
    from monthly
    inner join first_days
        on monthly.organization_id = first_days.organization_id
    cross join
        lateral generate_series(
            monthly.metric_date, (monthly.metric_date + interval '1 month - 1 day')::date,
            interval '1 day'
        ) as forecast_day
    where
        (monthly.metric_date + interval '1 month')::date <= {{ utc_date(as_of()) }}
        -- the last finished months only: each build's cost stays the same however long the
        -- history grows
        and monthly.metric_date >= (
            date_trunc('month', {{ utc_date(as_of()) }})
            - interval '{{ var("forecast_backtest_months") }} months'
        )::date
        and forecast_day::date - first_days.first_day >= {{ var('forecast_history_days') }}
),

forecast as (
    {{ month_end_forecast('points') }}
),

final as (
    select
        forecast.organization_id,
        forecast.forecast_date,
        forecast.month_start,
        forecast.days_remaining,
        forecast.forecast_cost_usd,
        forecast.forecast_cost_low_usd,
        forecast.forecast_cost_high_usd,
        monthly.total_cost_usd as actual_cost_usd,
        round(
            100 * abs(forecast.forecast_cost_usd - monthly.total_cost_usd)
            / nullif(monthly.total_cost_usd, 0),
            2
        ) as cost_absolute_percentage_error,
        monthly.total_cost_usd
        between forecast.forecast_cost_low_usd and forecast.forecast_cost_high_usd
            as cost_in_interval,
        forecast.forecast_savings_usd,
        forecast.forecast_savings_low_usd,
        forecast.forecast_savings_high_usd,
        monthly.total_savings_usd as actual_savings_usd,
        monthly.total_savings_usd
        between forecast.forecast_savings_low_usd and forecast.forecast_savings_high_usd
            as savings_in_interval
    from forecast
    inner join monthly
        on
            forecast.organization_id = monthly.organization_id
            and forecast.month_start = monthly.metric_date
)

select * from final
