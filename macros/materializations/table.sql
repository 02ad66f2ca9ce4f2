{#- Tables are refilled in place when their columns are unchanged: `delete` and `insert`, in the
    model's transaction with its grants and post-hooks. Readers see the old rows until the
    commit and are never blocked, and the views built on the table (the live views, the
    dashboards, a BI user's own views) stay: dbt-postgres's own table materialization renames
    the old table away and drops it with `cascade`, which dropped every dependent view at each
    build. The tables of this project that use it are small (reference data, daily support
    aggregates).

    A table whose columns change, or `--full-refresh`, is dropped with its dependents (through
    the adapter, so that dbt's relation cache forgets them) and created again, with the
    model's indexes; the run rebuilds the dependents it selects (`dbt build -s the_table+`).
    Index settings changed in the model apply then. -#}
{% materialization table, adapter='postgres' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set in_place = existing is not none and existing.is_table and not should_full_refresh()
        and columns_kept(existing, sql, exactly=true) -%}
    {%- if in_place -%}
        {% call statement('main') -%}
            delete from {{ target }};
            insert into {{ target }}
            {{ sql }}
        {%- endcall %}
    {%- else -%}
        {%- if existing is not none -%}
            {%- do adapter.drop_relation(existing) -%}
        {%- endif -%}
        {% call statement('main') -%}
            {{ get_create_table_as_sql(false, target, sql) }}
        {%- endcall %}
        {% do create_indexes(target) %}
    {%- endif -%}

    {% do apply_grants(target, grant_config, should_revoke=should_revoke(existing, full_refresh_mode=false)) %}
    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target]}) }}
{% endmaterialization %}
