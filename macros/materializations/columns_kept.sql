{#- Whether relation `existing` keeps its columns in a relation of `sql`: each old column comes
    first in the new one, in order, with the same name, type and collation (what `create or
    replace view` demands); with `exactly`, the new one has no other column either (what the
    table materialization's in-place refill demands). The new columns are read from a temporary
    view of `sql`, dropped at once, in the model's transaction. -#}
{% macro columns_kept(existing, sql, exactly=false) %}
    {%- set probe = existing.identifier ~ '__dbt_columns' -%}
    {% call statement('columns_probe') -%}
        create temporary view {{ adapter.quote(probe) }} as (
            {{ sql }}
        )
    {%- endcall %}
    {% call statement('columns_compared', fetch_result=true) -%}
        with columns_of as (
            select
                attribute.attrelid,
                attribute.attnum,
                attribute.attname,
                format_type(attribute.atttypid, attribute.atttypmod) as data_type,
                attribute.attcollation
            from pg_catalog.pg_attribute as attribute
            where attribute.attnum > 0 and not attribute.attisdropped
        ),

        old_columns as (
            select * from columns_of
            where attrelid = '{{ existing.include(database=false) }}'::regclass
        ),

        new_columns as (
            select * from columns_of
            where attrelid = 'pg_temp.{{ adapter.quote(probe) }}'::regclass
        ),

        compared as (
            select
                old_columns.attnum as old_position,
                new_columns.attnum as new_position,
                old_columns.attname = new_columns.attname
                and old_columns.data_type = new_columns.data_type
                and old_columns.attcollation = new_columns.attcollation as same
            from old_columns
            full outer join new_columns on old_columns.attnum = new_columns.attnum
        )

        select coalesce(bool_and(
            case
                when old_position is null then not {{ exactly }}
                when new_position is null then false
                else same
            end
        ), true) as kept
        from compared
    {%- endcall %}
    {% call statement('columns_probe_dropped') -%}
        drop view pg_temp.{{ adapter.quote(probe) }}
    {%- endcall %}
    {{ return(load_result('columns_compared')['data'][0][0]) }}
{% endmacro %}
