{#- The tasks whose newest version arrived after the last build of task_executions, as that
    build would give them: ranked, checked, costed and status-derived by the same macros
    (macros/task_pipeline.sql), the status as of now. A view over the live store
    (int_live_task_store: the tasks of the batches its ledger lists, ranked, checked and priced
    when they landed) and, computed at each query by raw.live_tasks_of, the tasks of any later
    batch the ledger does not list (docs/live.md, "The live store"); a task with a version in
    such a batch is taken from the computation only. analytics.task_executions for the tasks
    not in here, plus this view, is the current picture with no task counted twice; a task
    quarantined by its new version is in neither.
    Not security_invoker (it reads staging, which readers cannot): it filters rows for its
    caller itself, as the marts' row-level security does (macro visible_to_caller). -#}
{%- set functions = live_store_ledger().schema %}
with built as (
    select coalesce(max(built_from_batch_id), 0) as batch_id
    from {{ ref('task_executions') }}
),

-- the tasks of the batches after the build that the store does not hold (usually none)
unlisted as materialized (
    select {{ functions }}.live_unlisted_task_ids() as task_ids
),

{%- set current_store_rows %}
        last_batch_id > (select built.batch_id from built)
        and task_execution_id <> all((select unlisted.task_ids from unlisted)::uuid[])
{%- endset %}

-- a caller who sees every row reads the whole store; any other, the rows of their organization,
-- team or self, by the store's indexes (of some 4,000 rows, an organization's 40)
store_rows as (
    select *
    from {{ ref('int_live_task_store') }}
    where
        {{ sees_every_row() }}
        and {{ current_store_rows }}
    union all
    select *
    from {{ ref('int_live_task_store') }}
    where
        not {{ sees_every_row() }}
        and {{ rows_near_caller('organization_id', 'user_id') }}
        and {{ current_store_rows }}
),

computed_rows as (
    select *
    from {{ functions }}.live_tasks_of((select unlisted.task_ids from unlisted))
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
    from computed_rows
    where {{ visible_to_caller('organization_id', 'user_id') }}
)

select * from final
