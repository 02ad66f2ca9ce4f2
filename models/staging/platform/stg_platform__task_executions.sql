{{
    config(
        materialized='incremental',
        unique_key='task_execution_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['task_execution_id'], 'unique': true},
            {'columns': ['last_batch_id']},
            {'columns': ['built_at']},
            {'columns': ['started_at']},
        ],
    )
}}

{#- Newest version of each task execution. Versions are ordered by updated_at; among versions
    with the same updated_at, the later lifecycle status wins (a completion beats the running
    row it closes), then the later load. A table, not a view: each build ranks only the
    versions of the tasks that received a version since the previous build (all of their
    versions, found through the raw (id, updated_at) index), so its cost follows new data. -#}
-- not materialized: versions_to_rank reads it twice, each time narrowed by an index
with source as not materialized (
    select * from {{ source('platform', 'task_executions') }}
),

task_versions as (
    {{ versions_to_rank('source') }}
),

{{ newest_task_version_ctes('task_versions') }}

select * from newest_task_versions
