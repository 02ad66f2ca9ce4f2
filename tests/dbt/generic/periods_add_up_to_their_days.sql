{#- Weekly and monthly rows of a rollup hold exactly the sum of its daily rows, for each
    column of `measures`, per `subject` (an expression naming the rollup's subject). Every
    returned row is a period that does not add up. -#}
{% test periods_add_up_to_their_days(model, subject, measures) %}

-- weeks and months against days that other builds made: always every row
{{ config(full_table=true) }}

with periods as (
    select
        ({{ subject }})::text as subject,
        aggregation_period,
        metric_date,
        period_end,
        {{ measures | join(', ') }}
    from {{ model }}
    where aggregation_period in ('weekly', 'monthly')
),

days as (
    select
        ({{ subject }})::text as subject,
        metric_date,
        {{ measures | join(', ') }}
    from {{ model }}
    where aggregation_period = 'daily'
),

day_sums as (
    select
        periods.subject,
        periods.aggregation_period,
        periods.metric_date,
        {% for measure in measures -%}
            coalesce(sum(days.{{ measure }}), 0) as {{ measure }}{{ "," if not loop.last }}
        {% endfor %}
    from periods
    left join days
        on
            periods.subject = days.subject
            and periods.metric_date <= days.metric_date
            and periods.period_end > days.metric_date
    group by periods.subject, periods.aggregation_period, periods.metric_date
),

final as (
    select
        periods.aggregation_period,
        periods.subject,
        periods.metric_date
    from periods
    inner join day_sums
        on
            periods.subject = day_sums.subject
            and periods.aggregation_period = day_sums.aggregation_period
            and periods.metric_date = day_sums.metric_date
    where
        {% for measure in measures -%}
            {{ "or " if not loop.first }}periods.{{ measure }} is distinct from day_sums.{{ measure }}
        {% endfor %}
)

select * from final

{% endtest %}
