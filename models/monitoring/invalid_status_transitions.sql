{{
    config(
        materialized='incremental',
        unique_key='task_execution_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['task_execution_id']},
            {'columns': ['transition_date']},
        ],
        post_hook=[
            "{{ delete_rows_not_rebuilt(tasks_with_versions_after(stored_watermark())) }}",
            "{{ record_build_watermark() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_batch_watermark') }}

{#- Status changes between consecutive versions of a task that the lifecycle does not allow
    (pending -> running -> completed | failed). Versions are ordered as in staging (updated_at,
    then lifecycle order, then load order); exact repeats of a status are not transitions, and
    unknown statuses are the quarantine's (unknown_status), not counted here. Incremental: the
    tasks with a version since the previous build are sequenced again (all their versions);
    the rows of such a task that no longer has an invalid transition are deleted (post-hook). -#}
-- not materialized: narrowed by the index on the raw task id
with all_versions as not materialized (
    select * from {{ ref('stg_platform__task_execution_versions') }}
),

task_versions as (
    select all_versions.* from all_versions
    {%- if is_incremental() %}
    where
        all_versions.task_execution_id = any(array(
            {{ tasks_with_versions_after(stored_watermark()) }}
        ))
    {%- endif %}
),

distinct_versions as (
    select distinct on (task_execution_id, status, updated_at)
        task_execution_id,
        status,
        updated_at,
        batch_id,
        {{ status_lifecycle_rank('status') }} as status_rank
    from task_versions
    order by task_execution_id, status, updated_at, batch_id
),

sequenced as (
    select
        task_execution_id,
        status as to_status,
        updated_at as transitioned_at,
        batch_id,
        lag(status) over (
            partition by task_execution_id
            order by updated_at, status_rank, batch_id
        ) as from_status
    from distinct_versions
),

final as (
    select
        task_execution_id,
        from_status,
        to_status,
        transitioned_at,
        {{ utc_date('transitioned_at') }} as transition_date,
        batch_id,
        {{ run_started_at_literal() }} as built_at
    from sequenced
    where
        from_status in ('pending', 'running', 'completed', 'failed')
        and to_status in ('pending', 'running', 'completed', 'failed')
        and from_status != to_status
        and (from_status, to_status) not in (
            ('pending', 'running'),
            ('running', 'completed'),
            ('running', 'failed')
        )
)

select * from final
