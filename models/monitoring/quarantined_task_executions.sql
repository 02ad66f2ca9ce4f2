{#- Tasks whose newest version breaks a hard rule: kept out of the marts, listed here with
    the rule and the values that break it. -#}
with checked as (
    select * from {{ ref('int_task_executions_checked') }}
    where quarantine_reason is not null
),

final as (
    select
        task_execution_id as id,
        task_id,
        quarantine_reason as reason,
        organization_id,
        user_id,
        provider,
        task_type,
        status,
        started_at as start_time,
        ended_at as end_time,
        reported_cost_usd as cost_usd,
        updated_at,
        batch_id,
        loaded_at
    from checked
)

select * from final
