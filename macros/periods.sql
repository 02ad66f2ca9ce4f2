{#- Period attribution (UTC). A task belongs to the period holding its start time. -#}

{#- The UTC calendar date of a timestamptz, whatever the session's time zone. -#}
{% macro utc_date(timestamp_column) -%}
    ({{ timestamp_column }} at time zone 'utc')::date
{%- endmacro %}

{#- First day of the period of `period` ('daily', 'weekly' = ISO week from Monday,
    'monthly') holding the date `day`. -#}
{% macro period_start_date(period, day) -%}
    case {{ period }}
        when 'daily' then {{ day }}
        when 'weekly' then date_trunc('week', {{ day }})::date
        when 'monthly' then date_trunc('month', {{ day }})::date
    end
{%- endmacro %}

{#- The exclusive end of a period given its start (a date or timestamp). -#}
{% macro period_end(period, start) -%}
    ({{ start }} + case {{ period }}
        when 'hourly' then interval '1 hour'
        when 'daily' then interval '1 day'
        when 'weekly' then interval '7 days'
        when 'monthly' then interval '1 month'
    end)
{%- endmacro %}

{#- A stable UUID from the given key expressions (ids of rollup rows). -#}
{% macro surrogate_uuid(expressions) -%}
    md5(concat_ws('|', {{ expressions | join(', ') }}))::uuid
{%- endmacro %}

{#- One row per period kind: `cross join {{ period_kinds(['daily', 'weekly']) }}` gives each
    row once per kind, as column `aggregation_period`. -#}
{% macro period_kinds(kinds) -%}
    (
        values {% for kind in kinds %}('{{ kind }}'){% if not loop.last %}, {% endif %}{% endfor %}
    ) as period_kinds (aggregation_period)
{%- endmacro %}

{#- A UTC date (or a UTC wall-clock timestamp) as a timestamptz: a date's midnight. -#}
{% macro utc_midnight(day) -%}
    ({{ day }}::timestamp at time zone 'utc')
{%- endmacro %}

{#- Join condition on equal key columns: `on {{ keys_match('a', 'b', ['x', 'y']) }}`. -#}
{% macro keys_match(left, right, columns) -%}
    {%- for column in columns %}
    {% if not loop.first %}and {% endif %}{{ left }}.{{ column }} = {{ right }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
