{#- The correct form of the spec's query 3.4: one row per developer and ISO week, from the
    weekly rollup (the spec groups daily rows, so a developer appears once per active day
    with that day's numbers instead of once with the week's). -#}
with weekly as (
    select * from {{ ref('user_analytics') }}
    where aggregation_period = 'weekly'
),

users as (
    select * from {{ ref('users') }}
),

final as (
    select
        weekly.organization_id,
        weekly.user_id,
        users.name as user_name,
        users.team_id,
        weekly.metric_date as week_start,
        weekly.total_tasks,
        weekly.completed_tasks,
        weekly.total_savings_usd,
        weekly.most_used_provider,
        rank() over (
            partition by weekly.organization_id, weekly.metric_date
            order by weekly.total_tasks desc
        ) as task_rank
    from weekly
    inner join users
        on weekly.user_id = users.id
)

select * from final
