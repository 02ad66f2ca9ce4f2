{#- Routing decisions of the tasks in the marts (decisions of quarantined or never-delivered
    tasks stay out, like their tasks), with prediction errors = predicted - actual. -#}
with decisions as (
    select * from {{ ref('stg_platform__routing_decisions') }}
),

tasks as (
    select id from {{ ref('task_executions') }}
),

final as (
    select
        decisions.routing_decision_id as id,
        decisions.task_execution_id,
        decisions.chosen_provider::varchar(100) as chosen_provider,
        decisions.decided_at as decision_timestamp,
        decisions.alternative_providers,
        decisions.routing_algorithm_version::varchar(50) as routing_algorithm_version,
        decisions.decision_factors,
        decisions.predicted_cost_usd::numeric(10, 6) as predicted_cost,
        decisions.predicted_duration_ms::integer as predicted_duration_ms,
        decisions.predicted_quality_score::numeric(5, 2) as predicted_quality_score,
        decisions.actual_cost_usd::numeric(10, 6) as actual_cost,
        decisions.actual_duration_ms::integer as actual_duration_ms,
        decisions.actual_quality_score::numeric(5, 2) as actual_quality_score,
        decisions.created_at,
        (decisions.predicted_cost_usd - decisions.actual_cost_usd)::numeric(10, 6)
            as cost_prediction_error,
        decisions.predicted_duration_ms - decisions.actual_duration_ms
            as duration_prediction_error_ms,
        (decisions.predicted_quality_score - decisions.actual_quality_score)::numeric(6, 2)
            as quality_prediction_error,
        row_number() over (
            partition by decisions.task_execution_id
            order by decisions.decided_at desc, decisions.routing_decision_id desc
        ) = 1 as is_latest_for_task
    from decisions
    inner join tasks
        on decisions.task_execution_id = tasks.id
)

select * from final
