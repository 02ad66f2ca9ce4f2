{#- Weekly and monthly rows of a rollup hold exactly the sum of its daily rows, for each
    column of `measures`, per `subject` (an expression naming the rollup's subject). Every
    returned row is a period that does not add up. The weeks and months tested are those of
    the rollup's latest build (a day that changed is always rebuilt with its week and month),
    or every one on the full sweep; each is compared with all of its days, whichever build
    made them, read through the rollup's (subject, aggregation_period, metric_date) index. -#}
{% test periods_add_up_to_their_days(model, subject, measures) %}

-- weeks and months against days that other builds made: this test narrows itself
{{ config(full_table=true) }}

{%- set latest = none -%}
{%- if execute and not is_full_test_sweep() -%}
    {%- set latest = run_query(
        'select max(built_at)::text from ' ~ model
    ).columns[0].values()[0] -%}
{%- endif %}

with periods as (
    select
        {{ subject }} as subject,
        aggregation_period,
        metric_date,
        period_end,
        {{ measures | join(', ') }}
    from {{ model }}
    where
        aggregation_period in ('weekly', 'monthly')
        {%- if latest %}
        and built_at = '{{ latest }}'::timestamptz
        {%- endif %}
),

-- each period with the sums of its days (one probe of the index per period: no join back,
-- whose row estimate for a just-built period would be a guess)
final as (
    select
        periods.aggregation_period,
        periods.subject::text as subject,
        periods.metric_date
    from periods
    cross join lateral (
        select
            {% for measure in measures -%}
                coalesce(sum({{ measure }}), 0) as {{ measure }}{{ "," if not loop.last }}
            {% endfor %}
        from {{ model }}
        where
            ({{ subject }}) = periods.subject
            and aggregation_period = 'daily'
            and metric_date >= periods.metric_date
            and metric_date < periods.period_end
    ) as day_sums
    where
        {% for measure in measures -%}
            {{ "or " if not loop.first }}periods.{{ measure }} is distinct from day_sums.{{ measure }}
        {% endfor %}
)

select * from final

{% endtest %}
