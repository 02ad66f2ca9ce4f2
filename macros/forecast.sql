{#- The month-end forecast of each (organization_id, forecast_date) of `points` (a relation or
    CTE name), from organization_analytics' daily rows (docs/insights.md): the days of the
    month before forecast_date as they are, each remaining day of the month (forecast_date
    included) as the average of its weekday over the `forecast_history_days` days before
    forecast_date (days without tasks count as 0; a weekday without history takes the
    average of all of them), and a 95 % interval of 1.96 x the standard deviation of those
    days' residuals (cost minus its weekday's average) over the remaining
    days, widened for the weekday averages' own error (macro forecast_half_width). Used by
    analytics.savings_forecast (as_of) and monitoring.forecast_backtest (every past day)
    alike, and by analytics.budget_status for teams: `key` names the subject column of
    `points` and of `daily` (a relation or CTE name with key, metric_date, total_cost_usd and
    total_savings_usd, one row per subject and day with tasks; default organization_analytics'
    daily rows, by organization_id). -#}
{% macro month_end_forecast(points, key='organization_id', daily=none) %}
    with forecast_points as (
        select {{ key }}, forecast_date from {{ points }}
    ),

    forecast_daily as (
        {%- if daily is none %}
        select organization_id, metric_date, total_cost_usd, total_savings_usd
        from {{ ref('organization_analytics') }}
        where aggregation_period = 'daily'
        {%- else %}
        select {{ key }}, metric_date, total_cost_usd, total_savings_usd
        from {{ daily }}
        {%- endif %}
    ),

    forecast_first_days as (
        select {{ key }}, min(metric_date) as first_day
        from forecast_daily
        group by {{ key }}
    ),

    forecast_history as (
        select
            forecast_points.{{ key }},
            forecast_points.forecast_date,
            history_day::date as metric_date,
            extract(isodow from history_day) as weekday,
            coalesce(forecast_daily.total_cost_usd, 0) as cost_usd,
            coalesce(forecast_daily.total_savings_usd, 0) as savings_usd
        from forecast_points
        inner join forecast_first_days
            on forecast_points.{{ key }} = forecast_first_days.{{ key }}
        cross join lateral generate_series(
            greatest(
                forecast_first_days.first_day,
                forecast_points.forecast_date - {{ var('forecast_history_days') }}
            ),
            forecast_points.forecast_date - 1,
            interval '1 day'
        ) as history_day
        left join forecast_daily
            on
                forecast_points.{{ key }} = forecast_daily.{{ key }}
                and history_day::date = forecast_daily.metric_date
    ),

    forecast_weekdays as (
        select
            {{ key }},
            forecast_date,
            weekday,
            avg(cost_usd) as cost_usd,
            avg(savings_usd) as savings_usd
        from forecast_history
        group by {{ key }}, forecast_date, weekday
    ),

    forecast_spread as (
        select
            forecast_history.{{ key }},
            forecast_history.forecast_date,
            count(*) as history_days,
            avg(forecast_history.cost_usd) as cost_usd,
            avg(forecast_history.savings_usd) as savings_usd,
            coalesce(stddev_samp(forecast_history.cost_usd - forecast_weekdays.cost_usd), 0)
                as cost_residual_sd,
            coalesce(
                stddev_samp(forecast_history.savings_usd - forecast_weekdays.savings_usd), 0
            ) as savings_residual_sd
        from forecast_history
        inner join forecast_weekdays
            on
                forecast_history.{{ key }} = forecast_weekdays.{{ key }}
                and forecast_history.forecast_date = forecast_weekdays.forecast_date
                and forecast_history.weekday = forecast_weekdays.weekday
        group by forecast_history.{{ key }}, forecast_history.forecast_date
    ),

    forecast_month_to_date as (
        select
            forecast_points.{{ key }},
            forecast_points.forecast_date,
            coalesce(sum(forecast_daily.total_cost_usd), 0) as cost_usd,
            coalesce(sum(forecast_daily.total_savings_usd), 0) as savings_usd
        from forecast_points
        left join forecast_daily
            on
                forecast_points.{{ key }} = forecast_daily.{{ key }}
                and forecast_daily.metric_date
                >= date_trunc('month', forecast_points.forecast_date)::date
                and forecast_daily.metric_date < forecast_points.forecast_date
        group by forecast_points.{{ key }}, forecast_points.forecast_date
    ),

    forecast_remaining as (
        select
            forecast_points.{{ key }},
            forecast_points.forecast_date,
            count(*) as days_remaining,
            sum(coalesce(forecast_weekdays.cost_usd, forecast_spread.cost_usd)) as cost_usd,
            sum(coalesce(forecast_weekdays.savings_usd, forecast_spread.savings_usd))
                as savings_usd
        from forecast_points
        inner join forecast_spread
            on
                forecast_points.{{ key }} = forecast_spread.{{ key }}
                and forecast_points.forecast_date = forecast_spread.forecast_date
        cross join lateral generate_series(
            forecast_points.forecast_date,
            (date_trunc('month', forecast_points.forecast_date) + interval '1 month - 1 day')::date,
            interval '1 day'
        ) as remaining_day
        left join forecast_weekdays
            on
                forecast_points.{{ key }} = forecast_weekdays.{{ key }}
                and forecast_points.forecast_date = forecast_weekdays.forecast_date
                and extract(isodow from remaining_day) = forecast_weekdays.weekday
        group by forecast_points.{{ key }}, forecast_points.forecast_date
    )

    select
        forecast_points.{{ key }},
        forecast_points.forecast_date,
        date_trunc('month', forecast_points.forecast_date)::date as month_start,
        forecast_spread.history_days,
        forecast_remaining.days_remaining,
        forecast_month_to_date.cost_usd as month_to_date_cost_usd,
        round(forecast_month_to_date.cost_usd + forecast_remaining.cost_usd, 2)
            as forecast_cost_usd,
        round(greatest(
            forecast_month_to_date.cost_usd,
            forecast_month_to_date.cost_usd + forecast_remaining.cost_usd
                - {{ forecast_half_width('cost') }}
        ), 2) as forecast_cost_low_usd,
        round(
            forecast_month_to_date.cost_usd + forecast_remaining.cost_usd
            + {{ forecast_half_width('cost') }},
            2
        ) as forecast_cost_high_usd,
        forecast_month_to_date.savings_usd as month_to_date_savings_usd,
        round(forecast_month_to_date.savings_usd + forecast_remaining.savings_usd, 2)
            as forecast_savings_usd,
        round(
            forecast_month_to_date.savings_usd + forecast_remaining.savings_usd
            - {{ forecast_half_width('savings') }},
            2
        ) as forecast_savings_low_usd,
        round(
            forecast_month_to_date.savings_usd + forecast_remaining.savings_usd
            + {{ forecast_half_width('savings') }},
            2
        ) as forecast_savings_high_usd
    from forecast_points
    inner join forecast_spread
        on
            forecast_points.{{ key }} = forecast_spread.{{ key }}
            and forecast_points.forecast_date = forecast_spread.forecast_date
    inner join forecast_month_to_date
        on
            forecast_points.{{ key }} = forecast_month_to_date.{{ key }}
            and forecast_points.forecast_date = forecast_month_to_date.forecast_date
    inner join forecast_remaining
        on
            forecast_points.{{ key }} = forecast_remaining.{{ key }}
            and forecast_points.forecast_date = forecast_remaining.forecast_date
{% endmacro %}

{#- Half the 95 % interval of the forecast of the remaining days' sum of `measure` (cost or
    savings): 1.96 x sqrt(s^2 x h / (h - 7) x (n + n^2 / h)), with s the residuals' standard
    deviation over h days of history (7 weekday averages fitted: the h / (h - 7) factor) and
    n the remaining days: n days of daily noise, plus the weekday averages' error, which every
    remaining day of a weekday shares (n^2 / h). -#}
{% macro forecast_half_width(measure) -%}
    1.96 * forecast_spread.{{ measure }}_residual_sd * sqrt(
        forecast_spread.history_days::numeric / greatest(forecast_spread.history_days - 7, 1)
        * (
            forecast_remaining.days_remaining
            + forecast_remaining.days_remaining * forecast_remaining.days_remaining
            / forecast_spread.history_days::numeric
        )
    )
{%- endmacro %}
