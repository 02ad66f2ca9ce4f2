{#- Views are replaced in place: `create or replace view`, in the model's transaction with its
    grants and post-hooks. Readers, and the views and materialized views built on the view,
    never see it missing, and two threads never drop a shared dependent at once (dbt-postgres's
    own view materialization renames the old view away and drops it with `cascade`, so every
    build dropped the live views and their caches until their own nodes ran again).

    PostgreSQL replaces a view only when the new one keeps the old columns (names, types and
    collations, in order) and adds any new ones at the end. When it does not, the view is dropped
    with its dependents, through the adapter so that dbt's relation cache forgets them too, and
    created again; the run rebuilds the dependents it selects (after such a change, a build of
    the view and everything downstream: `dbt build -s view_name+`). -#}
{% materialization view, adapter='postgres' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='view') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing is not none and not (existing.is_view and columns_kept(existing, sql)) -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}

    {% call statement('main') -%}
        create or replace view {{ target }} as (
            {{ sql }}
        );
    {%- endcall %}

    {% do apply_grants(target, grant_config, should_revoke=should_revoke(existing, full_refresh_mode=false)) %}
    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target]}) }}
{% endmaterialization %}
