{#- Each organization's projected month-end cost and savings with a 95 % interval, as of the
    build's as_of (macro month_end_forecast; the method and its backtest: docs/insights.md). -#}
with points as (
    select distinct
        organization_id,
        {{ utc_date(as_of()) }} as forecast_date
    from {{ ref('organization_analytics') }}
    where
        aggregation_period = 'daily'
        and metric_date < {{ utc_date(as_of()) }}
),

forecast as (
    {{ month_end_forecast('points') }}
),

final as (
    select * from forecast
)

select * from final
