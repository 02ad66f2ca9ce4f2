{#- The live store (docs/live.md, "The live store"): the tasks that landed since the last build,
    ranked, checked and priced once, when they land (the loader calls raw.live_store_absorb in
    each task file's transaction) and at each build (model int_live_task_store), so that the
    live view reads them instead of computing each at every query. The ledger
    (raw.live_store_batches) lists the batches the store holds; the live view computes at
    each query the tasks of any batch after the build that it does not list, so it is exact
    whoever wrote the batch. Every writer of the store and the ledger holds the advisory lock
    731004 for its transaction. -#}

{#- The ledger, raw.live_store_batches (a source, named from the graph without making the
    store's models depend on it: it is their bookkeeping, as raw.batch_horizons is the build's;
    before execution, its declared name). -#}
{% macro live_store_ledger() -%}
    {%- set key = 'source.' ~ project_name ~ '.platform.live_store_batches' -%}
    {%- if execute and key in graph.sources -%}
        {%- set node = graph.sources[key] -%}
        {{ return(api.Relation.create(schema=node.schema, identifier=node.identifier)) }}
    {%- endif -%}
    {{ return(api.Relation.create(schema='raw', identifier='live_store_batches')) }}
{%- endmacro %}


{% macro live_store_lock() -%}
    select pg_advisory_xact_lock(731004)
{%- endmacro %}


{#- CTEs ending in `costed_tasks`: the tasks with a version in the batches of `batches_sql`, from
    all their versions (raw's id index), ranked, checked, priced and status-derived as of now
    by the marts' macros. `batch_floor_sql`: a bound below those batches that PostgreSQL can
    estimate (a literal): a list of batches alone is estimated as a share of each monthly
    partition's rows, and a small partition was then read whole. -#}
{% macro live_task_ctes(batches_sql, batch_floor_sql=none) %}
-- not materialized: read twice below, each time narrowed by an index of raw
raw_versions as not materialized (
    select * from {{ ref('stg_platform__task_execution_rows') }}
),

task_versions as (
    select raw_versions.*
    from raw_versions
    where raw_versions.id = any(array(
        select arrived.id from raw_versions as arrived
        where
            arrived._batch_id = any(array({{ batches_sql }}))
            {%- if batch_floor_sql is not none %}
            and arrived._batch_id > {{ batch_floor_sql }}
            {%- endif %}
    ))
),

{{ newest_task_version_ctes('task_versions') }},

{{ checked_task_ctes('newest_task_versions') }},

{{ costed_task_ctes('checked_tasks', as_of_sql='now()') }}
{% endmacro %}


{#- Pre-hook of int_live_task_store: the batches after task_executions' watermark, listed under
    the lock; the model's select then computes exactly their tasks. -#}
{% macro live_store_refill() %}
    {{ live_store_lock() }};
    {%- if is_incremental() %}
    delete from {{ this }};
    {%- endif %}
    delete from {{ live_store_ledger() }};
    insert into {{ live_store_ledger() }} (batch_id)
    select load_batches.batch_id
    from {{ ref('stg_platform__load_batches') }} as load_batches
    where
        load_batches.table_name = 'task_executions'
        and load_batches.batch_id > (
            select coalesce(max(built.built_from_batch_id), 0)
            from {{ ref('task_executions') }} as built
        )
{% endmacro %}


{#- Post-hook of int_live_task_store: raw.live_store_absorb(batch), the loader's call (in each
    task file's transaction): under the lock, lists the batch and replaces the store's rows of
    its tasks by the pipeline's (none for a task its newest version quarantines). The columns
    are named (a schema change appends the store's new columns at the end), and the relations
    not by their database (a copy of the database, as the tests make, keeps a working
    function). -#}
{% macro live_store_absorb_function() %}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set column_list = columns | join(', ') -%}
    {%- set ledger = live_store_ledger() -%}
    {%- set body -%}
begin
    perform pg_advisory_xact_lock(731004);
    insert into {{ ledger }} (batch_id) values (absorbed_batch)
    on conflict (batch_id) do nothing;
    delete from {{ this }} as stored
    where stored.task_execution_id = any(array(
        select arrived.id from {{ ref('stg_platform__task_execution_rows') }} as arrived
        where arrived._batch_id = absorbed_batch
    ));
    insert into {{ this }} ({{ column_list }})
    with {{ live_task_ctes('select absorbed_batch') }}
    select {{ column_list }} from costed_tasks;
end
    {%- endset %}
create or replace function {{ ledger.schema }}.live_store_absorb(absorbed_batch bigint)
returns void
language plpgsql
as $live_store_absorb$
{{ body | replace('"' ~ this.database ~ '".', '') }}
$live_store_absorb$
{% endmacro %}


{#- Post-hook of the reference staging tables: a new price, organization or user changes what
    the store's tasks cost; until the store is rebuilt (later in the same build) the ledger is
    empty, so the live view computes every task itself, with the new references. -#}
{% macro live_store_invalidate() %}
    {{ live_store_lock() }};
    delete from {{ live_store_ledger() }}
{% endmacro %}
