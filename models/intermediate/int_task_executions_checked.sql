{#- Every task's newest version with its organization's tier, default and baseline provider, and the
    hard rule it breaks first (quarantine_reason), or null when it breaks none. -#}
with executions as (
    select * from {{ ref('stg_platform__task_executions') }}
),

{{ checked_task_ctes('executions') }}

select * from checked_tasks
