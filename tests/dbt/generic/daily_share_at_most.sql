{#- Days on which the share of rows meeting `condition` exceeds `max_share` (a fraction).
    Days with fewer than `min_rows` rows are not judged: a rate over a handful of rows is
    noise, not a signal. -#}
{% test daily_share_at_most(model, day_column, condition, max_share, min_rows=1) %}

with days as (
    select
        {{ day_column }} as metric_date,
        count(*) as total_rows,
        count(*) filter (where {{ condition }}) as matching_rows
    from {{ model }}
    group by {{ day_column }}
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
        total_rows >= {{ min_rows }}
        and matching_rows::numeric / total_rows > {{ max_share }}
)

select * from final

{% endtest %}
