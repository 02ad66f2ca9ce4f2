{#- The specification's real-time savings counter (its query 3.2): each organization's savings
    so far today (UTC), from the completed tasks that started today (start_time from today's
    UTC midnight: the mart's (organization_id, start_time) index), taken from the marts and,
    for the tasks that changed since the last build, from the live view; no task twice
    (macro current_task_executions). A security_invoker view: the caller's row-level security
    applies to both. -#}
with today as (
    {{ current_task_executions(
        ['organization_id', 'status', 'cost_usd', 'baseline_cost_usd', 'savings_usd'],
        'start_time >= ' ~ utc_midnight(utc_date('now()'))
        ~ ' and start_time < ' ~ utc_midnight('(' ~ utc_date('now()') ~ ' + 1)')) }}
),

final as (
    select
        organization_id,
        {{ utc_date('now()') }} as metric_date,
        count(*) filter (where status = 'completed') as completed_tasks,
        count(*) filter (where status = 'completed' and is_live) as completed_tasks_live,
        coalesce(sum(cost_usd) filter (where status = 'completed'), 0) as total_cost_usd,
        coalesce(sum(baseline_cost_usd) filter (where status = 'completed'), 0)
            as total_baseline_cost_usd,
        coalesce(sum(savings_usd) filter (where status = 'completed'), 0) as total_savings_usd,
        now() as computed_at
    from today
    group by organization_id
)

select * from final
