{#- Every raw version of every task execution, as landed (raw column names, no typing): what the
    live view (analytics.live_task_executions) ranks with the staging model's own macro for
    the tasks that received a version since the last build. -#}
with source as (
    select * from {{ source('platform', 'task_executions') }}
),

final as (
    select * from source
)

select * from final
