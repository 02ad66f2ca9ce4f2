{#- Cost spikes per organization and day (docs/insights.md): a day's cost of completed tasks
    against the trailing window of the days before it (var anomaly_window_days, 28; days
    without tasks count as 0), with a robust score: (cost - median) / scale, where scale is
    1.4826 x the median absolute deviation (a standard deviation for normal data), floored
    at var anomaly_min_scale_share (5 %) of the median so that a flat series still has one.
    A day is an anomaly when its score reaches var anomaly_score_threshold (3.5), it has at
    least var anomaly_min_daily_tasks tasks and the organization at least
    var anomaly_min_history_days days before it. One row per organization and day with tasks;
    the days of the dq_threshold_days before as_of are is_in_judged_window (the alert rule
    reads those). -#}
with daily as (
    select
        organization_id,
        metric_date,
        total_tasks,
        total_cost_usd
    from {{ ref('organization_analytics') }}
    where aggregation_period = 'daily'
),

first_days as (
    select
        organization_id,
        min(metric_date) as first_day
    from daily
    group by organization_id
),

calendar as (
    select
        first_days.organization_id,
        first_days.first_day,
        calendar_day::date as metric_date
    from first_days
    cross join lateral generate_series(
        first_days.first_day, (select max(daily.metric_date) from daily), interval '1 day'
    ) as calendar_day
),

series as (
    select
        calendar.organization_id,
        calendar.first_day,
        calendar.metric_date,
        coalesce(daily.total_tasks, 0) as total_tasks,
        coalesce(daily.total_cost_usd, 0) as total_cost_usd
    from calendar
    left join daily
        on
            calendar.organization_id = daily.organization_id
            and calendar.metric_date = daily.metric_date
),

windowed as (
    select
        series.*,
        median_window.median_cost_usd
    from series
    cross join
        lateral (
            select
                percentile_cont(0.5) within group (order by earlier.total_cost_usd)
                    as median_cost_usd
            from series as earlier
            where
                earlier.organization_id = series.organization_id
                and earlier.metric_date >= series.metric_date - {{ var('anomaly_window_days') }}
                and earlier.metric_date < series.metric_date
        ) as median_window
    where series.total_tasks > 0
),

deviations as (
    select
        windowed.*,
        spread_window.mad_cost_usd
    from windowed
    cross join lateral (
        select
            percentile_cont(0.5) within group (
                order by abs(earlier.total_cost_usd - windowed.median_cost_usd)
            ) as mad_cost_usd
        from series as earlier
        where
            earlier.organization_id = windowed.organization_id
            and earlier.metric_date >= windowed.metric_date - {{ var('anomaly_window_days') }}
            and earlier.metric_date < windowed.metric_date
    ) as spread_window
),

scored as (
    select
        *,
        greatest(
            1.4826 * mad_cost_usd, {{ var('anomaly_min_scale_share') }} * median_cost_usd
        ) as robust_scale_usd,
        metric_date - first_day as history_days
    from deviations
),

judged as (
    select
        *,
        round(((total_cost_usd - median_cost_usd) / nullif(robust_scale_usd, 0))::numeric, 2)
            as anomaly_score
    from scored
),

final as (
    select
        organization_id,
        metric_date,
        total_tasks,
        total_cost_usd,
        round(median_cost_usd::numeric, 6) as trailing_median_cost_usd,
        round(mad_cost_usd::numeric, 6) as trailing_mad_cost_usd,
        round(robust_scale_usd::numeric, 6) as robust_scale_usd,
        history_days,
        anomaly_score,
        coalesce(
            anomaly_score >= {{ var('anomaly_score_threshold') }}
            and total_tasks >= {{ var('anomaly_min_daily_tasks') }}
            and history_days >= {{ var('anomaly_min_history_days') }},
            false
        ) as is_anomaly,
        case
            when history_days < {{ var('anomaly_min_history_days') }}
                then
                    'not judged: ' || history_days || ' days of history, '
                    || {{ var('anomaly_min_history_days') }} || ' needed'
            when total_tasks < {{ var('anomaly_min_daily_tasks') }}
                then
                    'not judged: ' || total_tasks || ' tasks, '
                    || {{ var('anomaly_min_daily_tasks') }} || ' needed'
            when anomaly_score is null then 'not judged: no cost in the trailing window'
            else
                'cost ' || to_char(total_cost_usd, 'FM999999990.00') || ' USD is '
                || to_char(anomaly_score, 'FM999999990.00')
                || ' robust deviations from the trailing '
                || {{ var('anomaly_window_days') }} || '-day median of '
                || to_char(median_cost_usd, 'FM999999990.00') || ' USD (scale '
                || to_char(robust_scale_usd, 'FM999999990.00') || ' USD), '
                || total_tasks || ' tasks'
        end as reason,
        {{ dq_in_judged_window('metric_date') }} as is_in_judged_window
    from judged
)

select * from final
