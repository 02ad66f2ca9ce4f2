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


{#- CTEs ending in `costed_tasks`: the tasks of `task_ids_sql` (an array of task execution ids),
    from all their versions (raw's id index), ranked, checked, priced and status-derived as of
    now by the marts' macros. -#}
{% macro live_task_ctes(task_ids_sql) %}
task_versions as (
    select task_rows.*
    from {{ ref('stg_platform__task_execution_rows') }} as task_rows
    where task_rows.id = any({{ task_ids_sql }})
),

{{ newest_task_version_ctes('task_versions') }},

{{ checked_task_ctes('newest_task_versions') }},

{{ costed_task_ctes('checked_tasks', as_of_sql='now()') }}
{% endmacro %}


{#- The ids of the tasks with a version in the load batches of `batches_sql` (a query of batch
    ids), as an array expression; `batch_floor_sql`: a bound below those batches that
    PostgreSQL can estimate (a literal): a list of batches alone is estimated as a share of
    each monthly partition's rows, and a small partition was then read whole. `batch_sql`
    instead of both: one batch's id (an expression), which even a generic plan estimates as
    the few rows of one batch (the batch index). -#}
{% macro live_batch_task_ids(batches_sql=none, batch_floor_sql=none, batch_sql=none) -%}
    array(
        {%- if batch_sql is not none %}
        select arrived.id from {{ ref('stg_platform__task_execution_rows') }} as arrived
        where arrived._batch_id = {{ batch_sql }}
        {%- else %}
        -- each listed batch looked up by the batch index, one lookup per batch: as
        -- "_batch_id = any(array(...))", an empty or short list was estimated as a share of
        -- every partition's rows and raw was read whole (6 s at 10 M for no batch at all);
        -- "offset 0" keeps the lookup a subquery run per batch (pulled up, it became a hash
        -- join over raw's every row)
        select arrived.id
        from ({{ batches_sql }}) as listed (batch_id)
        cross join lateral (
            select batch_rows.id from {{ ref('stg_platform__task_execution_rows') }} as batch_rows
            where
                batch_rows._batch_id = listed.batch_id
                {%- if batch_floor_sql is not none %}
                and batch_rows._batch_id > {{ batch_floor_sql }}
                {%- endif %}
            offset 0
        ) as arrived
        {%- endif %}
    )
{%- endmacro %}


{#- Pre-hook of int_live_task_store: the batches after task_executions' watermark, listed under
    the lock; the model's select then computes exactly their tasks. -#}
{% macro live_store_refill() %}
    {{ live_store_lock() }};
    {%- if is_incremental() %}
    delete from {{ this }};
    {%- endif %}
    delete from {{ live_store_ledger() }};
    insert into {{ live_store_ledger() }} (batch_id)
    {{ live_batches_after_build() }}
{% endmacro %}


{#- The task batches loaded after task_executions' watermark (a query of batch_id). -#}
{% macro live_batches_after_build() %}
    select load_batches.batch_id
    from {{ ref('stg_platform__load_batches') }} as load_batches
    where
        load_batches.table_name = 'task_executions'
        and load_batches.batch_id > (
            select coalesce(max(built.built_from_batch_id), 0)
            from {{ ref('task_executions') }} as built
        )
{% endmacro %}


{#- Post-hook of int_live_task_store: the indexes by which the live view finds a caller's rows
    (macro rows_near_caller); made here, not in the model's config, which makes indexes only
    with the table, and the store is never rebuilt. -#}
{% macro live_store_indexes() %}
    create index if not exists int_live_task_store_organization_id on {{ this }} (organization_id);
    create index if not exists int_live_task_store_user_id on {{ this }} (user_id)
{% endmacro %}


{#- Post-hook of int_live_task_store: the store's three functions, made from the marts' macros
    (plpgsql: each session plans their statements once, where the live view's own SQL for the
    pipeline took 10 ms to plan at each query):
    - live_tasks_of(ids): the pipeline's rows of those tasks, as the store's row type;
    - live_unlisted_task_ids(): the tasks with a version in a batch after task_executions'
      watermark that the ledger does not list (usually none: no raw read then);
    - live_store_absorb(batch): the loader's call, in each task file's transaction: under the
      lock, lists the batch and replaces the store's rows of its tasks by the pipeline's (none
      for a task its newest version quarantines).
    The columns are named in the table's order (a schema change appends the store's new ones at
    the end); the relations not by their database (a copy of the database, as the tests make,
    keeps working functions). The two readers are stable (they read the calling query's
    snapshot) and run with the owner's rights, as the live view reads staging: a reader role
    reaches them only through the view (schema raw is not theirs), which filters the rows for
    its caller. -#}
{% macro live_store_functions() %}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set column_list = columns | join(', ') -%}
    {%- set ledger = live_store_ledger() -%}
    {%- set functions -%}
create or replace function {{ ledger.schema }}.live_tasks_of(task_ids uuid[])
returns setof {{ this }}
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $live_tasks_of$
begin
    if coalesce(cardinality(task_ids), 0) = 0 then
        return;
    end if;
    return query
        with {{ live_task_ctes('task_ids') }}
        select {{ column_list }} from costed_tasks;
end
$live_tasks_of$;

create or replace function {{ ledger.schema }}.live_unlisted_task_ids()
returns uuid[]
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $live_unlisted_task_ids$
declare
    unlisted bigint[];
    found uuid[];
begin
    select coalesce(array_agg(after_build.batch_id), '{}') into unlisted
    from ({{ live_batches_after_build() }}) as after_build
    where not exists (
        select from {{ ledger }} as ledger
        where ledger.batch_id = after_build.batch_id
    );
    if cardinality(unlisted) = 0 then
        return '{}';
    end if;
    -- literals, for the planner's estimate of the batch index (macro live_batch_task_ids)
    execute format(
        {{ "'select " ~ live_batch_task_ids('select unnest(%L::bigint[])', '%s') | replace("'", "''") ~ "'" }},
        unlisted, (select min(batch) - 1 from unnest(unlisted) as batch)
    ) into found;
    return found;
end
$live_unlisted_task_ids$;

create or replace function {{ ledger.schema }}.live_store_absorb(absorbed_batch bigint)
returns void
language plpgsql
as $live_store_absorb$
declare
    -- the batch's tasks, read once from raw's batch index for both statements below
    task_ids uuid[] := {{ live_batch_task_ids(batch_sql='absorbed_batch') }};
begin
    perform pg_advisory_xact_lock(731004);
    insert into {{ ledger }} (batch_id) values (absorbed_batch)
    on conflict (batch_id) do nothing;
    delete from {{ this }} as stored
    where stored.task_execution_id = any(task_ids);
    insert into {{ this }} ({{ column_list }})
    select {{ column_list }} from {{ ledger.schema }}.live_tasks_of(task_ids);
end
$live_store_absorb$
    {%- endset %}
{{ functions | replace('"' ~ this.database ~ '".', '') }}
{% endmacro %}


{#- Post-hook of the reference staging tables: a new price, organization or user changes what
    the store's tasks cost; until the store is rebuilt (later in the same build) the ledger is
    empty, so the live view computes every task itself, with the new references. -#}
{% macro live_store_invalidate() %}
    {{ live_store_lock() }};
    delete from {{ live_store_ledger() }}
{% endmacro %}
