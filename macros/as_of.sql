{#- The build's point in time: dbt var `as_of` (ISO-8601) or, unset, the time of the run. -#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or value == '' -%}
        {{ run_started_at_literal() }}
    {%- else -%}
        '{{ value }}'::timestamptz
    {%- endif -%}
{%- endmacro %}

{% macro run_started_at_literal() -%}
    '{{ run_started_at.isoformat() }}'::timestamptz
{%- endmacro %}
