{#- on-run-start: drop, one after the other, the views this run will rebuild.
    dbt-postgres replaces a view by renaming it and dropping the old one with `cascade`; two
    threads replacing views that share a dependent view then both drop that dependent and
    PostgreSQL aborts one of them with a deadlock. Dropped up front, serially, the views are
    simply created. (Dependents of a rebuilt view are dropped by the cascade either way, as
    with dbt's own replacement; the run recreates the selected ones.) -#}
{% macro drop_selected_views() %}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and node.config.materialized == 'view'
            and node.unique_id in selected_resources -%}
            {#- through the adapter, so that dbt's relation cache forgets the view too -#}
            {%- do adapter.drop_relation(api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.alias, type='view'
            )) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}
