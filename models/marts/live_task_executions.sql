{#- The tasks whose newest version arrived after the last build of task_executions, as that
    build would give them: ranked, checked, costed and status-derived by the same macros
    (macros/task_pipeline.sql), the status as of now. A view over the live store
    (int_live_task_store: the tasks of the batches its ledger lists, ranked, checked and priced
    when they landed) and, computed at each query, the tasks of any later batch the ledger does
    not list (docs/live.md, "The live store"); a task with a version in such a batch is taken
    from the computation only. analytics.task_executions for the tasks not in here, plus this
    view, is the current picture with no task counted twice; a task quarantined by its new
    version is in neither.
    Not security_invoker (it reads staging, which readers cannot): it filters rows for its
    caller itself, as the marts' row-level security does (macro visible_to_caller). -#}
with built as (
    select coalesce(max(built_from_batch_id), 0) as batch_id
    from {{ ref('task_executions') }}
),

-- the batches loaded since that the store does not hold (a short list, usually empty, which
-- the planner reads through raw's batch index; a bare `_batch_id > (select ...)` is planned
-- without knowing the bound, as a third of raw)
unlisted_batches as (
    select load_batches.batch_id
    from {{ ref('stg_platform__load_batches') }} as load_batches
    where
        load_batches.table_name = 'task_executions'
        and load_batches.batch_id > (select built.batch_id from built)
        and not exists (
            select from {{ live_store_ledger() }} as ledger
            where ledger.batch_id = load_batches.batch_id
        )
),

{{ live_task_ctes(
    'select unlisted_batches.batch_id from unlisted_batches',
    value_when_built(
        'select coalesce(max(built_from_batch_id), 0) from ' ~ ref('task_executions'),
        'bigint', ref('task_executions'))) }},

store_rows as (
    select *
    from {{ ref('int_live_task_store') }}
    where
        last_batch_id > (select built.batch_id from built)
        and task_execution_id <> all(array(
            select task_versions.id from task_versions
        ))
),

final as (
    select
        {{ task_execution_mart_columns(
            effective_status('status', 'ended_at', 'started_at', 'now()')) }},
        now() as computed_at
    from store_rows
    where {{ visible_to_caller('organization_id', 'user_id') }}
    union all
    select
        {{ task_execution_mart_columns() }},
        now() as computed_at
    from costed_tasks
    where {{ visible_to_caller('organization_id', 'user_id') }}
)

select * from final
