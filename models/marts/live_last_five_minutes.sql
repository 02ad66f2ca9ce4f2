{#- The last five minutes per organization and provider: tasks started, completed and failed in
    the window (by start_time, and by end_time for the finished ones), with the cost, baseline
    and savings of those completed, from the marts and the live view (no task twice: macro
    current_task_executions). A security_invoker view: the caller's row-level security
    applies. -#}
with recent as (
    {{ current_task_executions(
        ['organization_id', 'provider', 'start_time', 'end_time', 'status', 'cost_usd',
         'baseline_cost_usd', 'savings_usd'],
        "start_time >= now() - interval '5 minutes' "
        ~ "or end_time >= now() - interval '5 minutes'") }}
),

final as (
    select
        organization_id,
        provider,
        now() - interval '5 minutes' as window_start,
        now() as window_end,
        count(*) filter (where start_time >= now() - interval '5 minutes') as started_tasks,
        count(*) filter (
            where status = 'completed' and end_time >= now() - interval '5 minutes'
        ) as completed_tasks,
        count(*) filter (
            where status = 'failed' and end_time >= now() - interval '5 minutes'
        ) as failed_tasks,
        coalesce(sum(cost_usd) filter (
            where status = 'completed' and end_time >= now() - interval '5 minutes'
        ), 0) as total_cost_usd,
        coalesce(sum(baseline_cost_usd) filter (
            where status = 'completed' and end_time >= now() - interval '5 minutes'
        ), 0) as total_baseline_cost_usd,
        coalesce(sum(savings_usd) filter (
            where status = 'completed' and end_time >= now() - interval '5 minutes'
        ), 0) as total_savings_usd,
        now() as computed_at
    from recent
    group by organization_id, provider
)

select * from final
