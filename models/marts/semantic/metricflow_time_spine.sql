{#- MetricFlow's time spine: one row per UTC day, far enough on both sides of the data (the
    semantic layer's metrics by metric_time join it; docs/semantic_layer.md). -#}
with days as (
    select spine_day::date as date_day
    from generate_series('2020-01-01'::date, '2040-12-31'::date, interval '1 day') as spine_day
),

final as (
    select date_day from days
)

select * from final
