{#- Routing recommendations per organization and task type (docs/insights.md): a provider
    whose success rate on that task type, over every organization, is within
    var recommendation_success_margin (percentage points) of the organization's current mix
    and whose average cost per completed task is lower. Evidence: the tasks started in the
    var recommendation_window_days days before as_of (UTC days), at least
    var recommendation_min_tasks finished tasks of the provider and of the organization's
    mix; nothing is recommended on less. The estimated monthly savings move the
    organization's completed tasks of the window, scaled to 30 days, to the provider's
    average cost. One row per recommendation, best first (rank). -#}
with window_tasks as (
    select
        organization_id,
        task_type,
        provider,
        status,
        cost_usd
    from {{ ref('task_executions') }}
    where
        start_time >= {{ utc_midnight(
            '(' ~ utc_date(as_of()) ~ ' - ' ~ var('recommendation_window_days') ~ ')') }}
        and start_time < {{ utc_midnight(utc_date(as_of())) }}
        and status in ('completed', 'failed')
),

-- one pass over the window's tasks for both sides: per organization and task type (the current
-- mix, whatever provider ran it) and per task type and provider (every organization)
sides as (
    select
        organization_id,
        task_type,
        provider,
        count(*) as finished_tasks,
        count(*) filter (where status = 'completed') as completed_tasks,
        100.0 * count(*) filter (where status = 'completed') / count(*) as success_rate,
        avg(cost_usd) filter (where status = 'completed') as avg_cost_usd,
        grouping(provider) = 1 as is_current_mix
    from window_tasks
    group by grouping sets ((organization_id, task_type), (task_type, provider))
),

current_mix as (
    select * from sides
    where is_current_mix
),

providers as (
    select * from sides
    where not is_current_mix
),

candidates as (
    select
        current_mix.organization_id,
        current_mix.task_type,
        providers.provider as recommended_provider,
        current_mix.finished_tasks as current_finished_tasks,
        current_mix.completed_tasks as current_completed_tasks,
        current_mix.success_rate as current_success_rate,
        current_mix.avg_cost_usd as current_avg_cost_usd,
        providers.finished_tasks as provider_finished_tasks,
        providers.success_rate as provider_success_rate,
        providers.avg_cost_usd as provider_avg_cost_usd,
        (current_mix.avg_cost_usd - providers.avg_cost_usd) * current_mix.completed_tasks
        * 30.0 / {{ var('recommendation_window_days') }} as estimated_monthly_savings_usd
    from current_mix
    inner join providers
        on current_mix.task_type = providers.task_type
    where
        current_mix.finished_tasks >= {{ var('recommendation_min_tasks') }}
        and providers.finished_tasks >= {{ var('recommendation_min_tasks') }}
        and providers.success_rate
        >= current_mix.success_rate - {{ var('recommendation_success_margin') }}
        and providers.avg_cost_usd < current_mix.avg_cost_usd
),

final as (
    select
        organization_id,
        task_type,
        row_number() over (
            partition by organization_id, task_type
            order by estimated_monthly_savings_usd desc, recommended_provider asc
        ) as rank,
        recommended_provider,
        round(estimated_monthly_savings_usd, 2) as estimated_monthly_savings_usd,
        round(current_success_rate, 2) as current_success_rate,
        round(current_avg_cost_usd, 6) as current_avg_cost_usd,
        current_finished_tasks,
        current_completed_tasks,
        round(provider_success_rate, 2) as provider_success_rate,
        round(provider_avg_cost_usd, 6) as provider_avg_cost_usd,
        provider_finished_tasks,
        {{ utc_date(as_of()) }} - {{ var('recommendation_window_days') }} as evidence_from,
        {{ utc_date(as_of()) }} - 1 as evidence_to,
        'route ' || task_type || ' to ' || recommended_provider || ': '
        || to_char(provider_success_rate, 'FM990.0') || ' % success on '
        || provider_finished_tasks || ' tasks against '
        || to_char(current_success_rate, 'FM990.0') || ' % on your '
        || current_finished_tasks || ', at '
        || to_char(provider_avg_cost_usd, 'FM999990.0000') || ' USD a task instead of '
        || to_char(current_avg_cost_usd, 'FM999990.0000') || ': about '
        || to_char(estimated_monthly_savings_usd, 'FM999999990.00') || ' USD a month'
            as reason
    from candidates
)

select * from final
