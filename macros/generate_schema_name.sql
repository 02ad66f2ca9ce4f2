{#- Schemas are exactly the configured names (raw, staging, analytics, monitoring), without
    dbt's default "<target schema>_" prefix: BI tools and the spec's queries rely on them. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
