{#- Days on which `count_column` / `total_column` of a daily model exceeds `max_share` (a
    fraction). Days with a total under `min_total` are not judged: a rate over a handful of
    rows is noise, not a signal. With `recent_days`, only the days in the `recent_days` before
    the build's as_of (UTC) are judged, so a bad day fails the builds of that window, not every
    build forever after. Put it on a model nothing depends on (monitoring.data_quality_daily):
    a failing error-level test makes `dbt build` fail without skipping the marts. -#}
{% test daily_share_at_most(
    model, day_column, count_column, total_column, max_share, min_total=1, recent_days=none
) %}

with days as (
    select
        {{ day_column }} as metric_date,
        {{ total_column }} as total_rows,
        {{ count_column }} as matching_rows
    from {{ model }}
),

final as (
    select
        metric_date,
        total_rows,
        matching_rows,
        round(matching_rows::numeric / total_rows, 4) as share,
        {{ max_share }} as max_share
    from days
    where
        total_rows >= greatest({{ min_total }}, 1)
        and matching_rows::numeric / total_rows > {{ max_share }}
        {%- if recent_days is not none %}
            and metric_date > {{ utc_date(as_of()) }} - {{ recent_days }}
        {%- endif %}
)

select * from final

{% endtest %}
