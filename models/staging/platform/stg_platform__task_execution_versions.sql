{#- Every version of every task execution as loaded (no de-duplication): which organization,
    user, provider, task type and start day each version named. Incremental rollups use it to
    find every period a changed task belonged to, before and after the change. -#}
with source as (
    select * from {{ source('platform', 'task_executions') }}
),

final as (
    select
        id as task_execution_id,
        organization_id,
        user_id,
        lower(trim(provider)) as provider,
        lower(trim(task_type)) as task_type,
        start_time as started_at,
        {{ utc_date('start_time') }} as start_date,
        lower(trim(status)) as status,
        updated_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id,
        _source_line as source_line
    from source
)

select * from final
