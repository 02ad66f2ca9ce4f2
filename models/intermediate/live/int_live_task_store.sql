{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='sync_all_columns',
        indexes=[{'columns': ['task_execution_id']}],
        pre_hook=["{{ live_store_refill() }}"],
        post_hook=["{{ live_store_indexes() }}", "{{ live_store_functions() }}"],
    )
}}

-- depends_on: {{ ref('task_executions') }}

{#- The live store (docs/live.md, "The live store"): every task with a version after the last
    build of task_executions, ranked, checked and priced by the marts' macros, the status as
    of this build (the live view derives it again as of now). Rebuilt at each build, after
    task_executions: the pre-hook empties it and lists in the ledger the batches after the new
    watermark, whose tasks this select computes; between builds, the loader adds each task
    file's batch (raw.live_store_absorb, the post-hook's function). Never fully refreshed: a
    new table would drop the live view that reads it. #}
-- depends_on: {{ ref('stg_platform__load_batches') }}
{%- set ledger = live_store_ledger() %}
with {{ live_task_ctes(live_batch_task_ids(
    'select ledger.batch_id from ' ~ ledger ~ ' as ledger')) }}

select * from costed_tasks
