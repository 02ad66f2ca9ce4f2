{#- The batch horizon (docs/concurrency.md). A load's batch id is drawn when its transaction
    starts, so a smaller id can commit after a larger one; a build that read every committed
    batch would miss such a load for good. A build therefore reads only the batches up to the
    horizon it took at its start: the newest batch id allocated once every load holding one
    has committed (raw.take_batch_horizon waits for them). Later batches wait for the next
    build. -#}

{#- on-run-start hook: take a new horizon when this run rebuilds a model that reads it (so a
    partial run, such as the hourly tag:hourly+ job, keeps the horizon its staging was built
    to). -#}
{% macro take_batch_horizon() %}
    {%- set horizons = 'source.generic_corp_warehouse.platform.batch_horizons' -%}
    {%- set ns = namespace(needed=false) -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- for node in graph.nodes.values()
            if node.unique_id in selected_resources
            and horizons in node.depends_on.nodes -%}
            {%- set ns.needed = true -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if ns.needed -%}
        {%- set schema = graph.sources[horizons].schema -%}
        select {{ adapter.quote(schema) }}.take_batch_horizon()
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}

{#- The current build's horizon: the newest batch id it reads (a scalar subquery). -#}
{% macro batch_horizon() -%}
    (select coalesce(max(batch_id), 0) from {{ source('platform', 'batch_horizons') }})
{%- endmacro %}
