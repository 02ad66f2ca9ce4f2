{#- The tasks whose newest version arrived after the last build of task_executions, as that
    build would give them: ranked, checked, costed and status-derived by the same macros
    (macros/task_pipeline.sql), the status as of now. A view, computed at each query: only the
    versions of tasks with a version after the build are read (raw's batch and id indexes).
    analytics.task_executions for the tasks not in here, plus this view, is the current picture
    with no task counted twice; a task quarantined by its new version is in neither.
    Not security_invoker (it reads staging, which readers cannot): it filters rows for its
    caller itself, as the marts' row-level security does (macro visible_to_caller). -#}
with built as (
    select coalesce(max(built_from_batch_id), 0) as batch_id
    from {{ ref('task_executions') }}
),

-- not materialized: read twice below, each time narrowed by an index of raw
raw_versions as not materialized (
    select * from {{ ref('stg_platform__task_execution_rows') }}
),

-- the batches loaded since (a short list, which the planner reads through raw's batch index;
-- a bare `_batch_id > (select ...)` is planned without knowing the bound, as a third of raw)
arrived_batches as (
    select load_batches.batch_id
    from {{ ref('stg_platform__load_batches') }} as load_batches
    where
        load_batches.table_name = 'task_executions'
        and load_batches.batch_id > (select built.batch_id from built)
),

task_versions as (
    select raw_versions.*
    from raw_versions
    where raw_versions.id = any(array(
        select arrived.id from raw_versions as arrived
        where
            arrived._batch_id = any(array(select arrived_batches.batch_id from arrived_batches))
            -- redundant (the bound when this view was created, a literal, never above the
            -- bound now): what the planner estimates from the batch index's real maximum; the
            -- list above alone is estimated as a share of each partition's batches, and a
            -- small partition was then read whole
            and arrived._batch_id > {{ value_when_built(
                'select coalesce(max(built_from_batch_id), 0) from ' ~ ref('task_executions'),
                'bigint', ref('task_executions')) }}
    ))
),

{{ newest_task_version_ctes('task_versions') }},

{{ checked_task_ctes('newest_task_versions') }},

{{ costed_task_ctes('checked_tasks', as_of_sql='now()') }},

final as (
    select
        {{ task_execution_mart_columns() }},
        now() as computed_at
    from costed_tasks
    where {{ visible_to_caller('organization_id', 'user_id') }}
)

select * from final
