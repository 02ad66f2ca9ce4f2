{#- The newest load batch visible to this build, over every table that feeds the marts.
    Incremental marts store it on the rows they (re)build; the next build treats anything from a
    later batch as changed. Batch ids come from one sequence, so they compare across tables. -#}
with task_executions as (
    select max(last_batch_id) as batch_id from {{ ref('stg_platform__task_executions') }}
),

routing_decisions as (
    select max(last_batch_id) as batch_id from {{ ref('stg_platform__routing_decisions') }}
),

provider_pricing as (
    select max(batch_id) as batch_id from {{ ref('stg_platform__provider_pricing') }}
),

organizations as (
    select max(batch_id) as batch_id from {{ ref('stg_platform__organizations') }}
),

users as (
    select max(batch_id) as batch_id from {{ ref('stg_platform__users') }}
),

final as (
    select
        coalesce(
            greatest(
                task_executions.batch_id,
                routing_decisions.batch_id,
                provider_pricing.batch_id,
                organizations.batch_id,
                users.batch_id
            ),
            0
        ) as batch_id
    from task_executions
    cross join routing_decisions
    cross join provider_pricing
    cross join organizations
    cross join users
)

select * from final
