{#- The newest load batch this build's marts take in: the newest batch the incremental staging
    tables hold. Incremental marts store it on the rows they (re)build; the next build treats
    anything from a later batch as changed. Those tables read only up to the build's batch
    horizon (macros/batch_horizon.sql), and hold every task and routing decision version up to
    it, so everything up to the watermark is in; the staging views (prices, organizations,
    users) may show later batches, which the next build takes in again. Batch ids come from one
    sequence, so they compare across tables. -#}
with task_executions as (
    select max(last_batch_id) as batch_id from {{ ref('stg_platform__task_executions') }}
),

routing_decisions as (
    select max(last_batch_id) as batch_id from {{ ref('stg_platform__routing_decisions') }}
),

final as (
    select coalesce(greatest(task_executions.batch_id, routing_decisions.batch_id), 0) as batch_id
    from task_executions
    cross join routing_decisions
)

select * from final
