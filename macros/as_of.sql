{#- The build's point in time: dbt var `as_of` (ISO-8601), else the environment variable
    WAREHOUSE_AS_OF, else the time of the run. The environment variable is read only when the
    run executes, never while dbt parses: a new value does not make dbt parse the project again
    (a new --vars does). -#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if (value is none or value == '') and execute -%}
        {%- set value = env_var('WAREHOUSE_AS_OF', '') -%}
    {%- endif -%}
    {%- if value is none or value == '' -%}
        {{ run_started_at_literal() }}
    {%- else -%}
        '{{ value }}'::timestamptz
    {%- endif -%}
{%- endmacro %}

{% macro run_started_at_literal() -%}
    '{{ run_started_at.isoformat() }}'::timestamptz
{%- endmacro %}
