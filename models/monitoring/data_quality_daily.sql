{{
    config(
        materialized='incremental',
        unique_key='metric_date',
        incremental_strategy='delete+insert',
        post_hook=[
            "delete from {{ this }} where {{ dq_day_is_empty() }}",
            "{{ record_build_watermark() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_batch_watermark') }}

{#- Data quality day by day (UTC): what was loaded and rejected (by load day), what the tasks
    started that day look like (quarantine, prices, costs, failures, negative savings), invalid
    status transitions and versions that arrived after a newer one. Each metric has a status
    (ok, warning, critical) from the thresholds (dbt vars dq_*) applied to the exact counts
    (the percentages are rounded for display only); `status` is the worst of them. The days of
    the `dq_threshold_days` before the build's as_of are `is_in_judged_window`: the data tests
    and the alert rules judge those days' statuses, so the two never disagree.
    Incremental: only the days a change since the previous build can touch are computed again
    (load days of new batches; start, update and load days of every version of the tasks with
    a new version; start days of the tasks rebuilt since; the 7 days after each, whose
    trailing average they feed; days entering or leaving the judged window); a day left with
    nothing to report is deleted (post-hook). -#}
-- not materialized: each is read narrowed to the affected days, through an index
with batches as (
    select * from {{ ref('stg_platform__load_batches') }}
),

rejected as not materialized (
    select * from {{ ref('stg_platform__rejected_rows') }}
),

quarantined as not materialized (
    select * from {{ ref('quarantined_task_executions') }}
),

transitions as not materialized (
    select * from {{ ref('invalid_status_transitions') }}
),

tasks as not materialized (
    select * from {{ ref('task_executions') }}
),

versions as not materialized (
    select * from {{ ref('stg_platform__task_execution_versions') }}
),

{% if is_incremental() -%}
new_versions as (
    select versions.* from versions
    where versions.batch_id > {{ stored_watermark() }}
),

changed_versions as (
    {{ changed_task_versions(stored_watermark()) }}
),

changed_days as (
    select batches.load_date as metric_date from batches
    where batches.batch_id > {{ stored_watermark() }}
    union
    select rejected.rejected_date from rejected
    where rejected.batch_id > {{ stored_watermark() }}
    union
    select changed_versions.start_date from changed_versions
    union
    select {{ utc_date('changed_versions.updated_at') }} from changed_versions
    union
    select tasks.start_date from tasks
    where tasks.built_at > {{ stored_build_time() }}
),

-- versions loaded on these days: their late-arrival count changes
load_days as (
    select distinct {{ utc_date('new_versions.loaded_at') }} as metric_date
    from new_versions
),

affected_days as (
    select changed_days.metric_date + day_offsets.day_offset as metric_date
    from changed_days
    cross join generate_series(0, 7) as day_offsets (day_offset)
    union
    select load_days.metric_date from load_days
    union
    select previous_build.metric_date from {{ this }} as previous_build
    where
        previous_build.is_in_judged_window
        != ({{ dq_in_judged_window('previous_build.metric_date') }})
),

{% endif -%}
loads as (
    select
        batches.load_date as metric_date,
        count(*) as load_batches,
        count(*) filter (where batches.status = 'failed') as failed_files,
        sum(batches.rows_read) as rows_read,
        sum(batches.rows_loaded) as rows_loaded,
        sum(batches.rows_rejected) as rows_rejected
    from batches
    {%- if is_incremental() %}
    where batches.load_date in (select affected_days.metric_date from affected_days)
    {%- endif %}
    group by batches.load_date
),

rejection_counts as (
    select
        rejected.rejected_date,
        rejected.reason_kind,
        count(*) as row_count
    from rejected
    {%- if is_incremental() %}
    where rejected.rejected_date in (select affected_days.metric_date from affected_days)
    {%- endif %}
    group by rejected.rejected_date, rejected.reason_kind
),

rejections as (
    select
        rejected_date as metric_date,
        jsonb_object_agg(reason_kind, row_count) as rejected_by_reason
    from rejection_counts
    group by rejected_date
),

quarantine_counts as (
    select
        {{ utc_date('quarantined.start_time') }} as start_date,
        quarantined.reason,
        count(*) as task_count
    from quarantined
    {% if is_incremental() -%}
    inner join affected_days
        on
            quarantined.start_time >= {{ utc_midnight('affected_days.metric_date') }}
            and quarantined.start_time < {{ utc_midnight('(affected_days.metric_date + 1)') }}
    {%- endif %}
    group by start_date, quarantined.reason
),

quarantine as (
    select
        start_date as metric_date,
        sum(task_count) as quarantined_tasks,
        jsonb_object_agg(reason, task_count) as quarantined_by_reason
    from quarantine_counts
    group by start_date
),

transition_days as (
    select
        transitions.transition_date as metric_date,
        count(*) as invalid_transitions
    from transitions
    {%- if is_incremental() %}
    where
        transitions.transition_date = any(array(
            select affected_days.metric_date from affected_days
        ))
    {%- endif %}
    group by transitions.transition_date
),

task_days as (
    select
        tasks.start_date as metric_date,
        count(*) as total_tasks,
        count(*) filter (where tasks.status = 'failed') as failed_tasks,
        count(*) filter (where tasks.status = 'timed_out') as timed_out_tasks,
        count(*) filter (where tasks.savings_usd < 0) as negative_savings_tasks,
        count(*) filter (where tasks.cost_source != 'pricing') as tasks_without_price,
        count(*) filter (where tasks.cost_usd is null or tasks.cost_usd < 0) as invalid_cost_tasks
    from tasks
    {%- if is_incremental() %}
    where tasks.start_date = any(array(select affected_days.metric_date from affected_days))
    {%- endif %}
    group by tasks.start_date
),

{% if is_incremental() -%}
-- every version of the tasks with a version loaded on a load day (each day read through
-- the raw load-time index: lateral, kept apart by offset 0, a planner fence that skips no row,
-- so no order by; noqa for AM09); versions loaded earlier are what a late one is compared with
late_candidates as (
    select versions.* from versions
    where versions.task_execution_id = any(array(
        select day_versions.task_execution_id
        from load_days
        cross join lateral (
            select versions_of_day.task_execution_id
            from versions as versions_of_day
            where
                versions_of_day.loaded_at >= {{ utc_midnight('load_days.metric_date') }}
                and versions_of_day.loaded_at
                < {{ utc_midnight('(load_days.metric_date + 1)') }}
            offset 0 -- noqa: AM09
        ) as day_versions
    ))
),

{% endif -%}
ordered_versions as (
    select
        loaded_at,
        updated_at,
        max(updated_at) over (
            partition by task_execution_id
            order by batch_id, source_line
            rows between unbounded preceding and 1 preceding
        ) as newest_earlier_updated_at
    from {% if is_incremental() %}late_candidates{% else %}versions{% endif %}
),

late_versions as (
    select * from ordered_versions
    where updated_at < newest_earlier_updated_at
),

late_days as (
    select
        {{ utc_date('loaded_at') }} as metric_date,
        count(*) as late_arriving_versions
    from late_versions
    {%- if is_incremental() %}
    where {{ utc_date('loaded_at') }} in (select load_days.metric_date from load_days)
    {%- endif %}
    group by metric_date
    {%- if is_incremental() %}
    union all
    -- the other affected days: no version was loaded on them since, the count stands
    select
        previous_build.metric_date,
        previous_build.late_arriving_versions
    from {{ this }} as previous_build
    where
        previous_build.metric_date in (select affected_days.metric_date from affected_days)
        and previous_build.metric_date not in (select load_days.metric_date from load_days)
    {%- endif %}
),

all_days as (
    {%- if is_incremental() %}
    select affected_days.metric_date from affected_days
    {%- else %}
    select metric_date from loads
    union
    select metric_date from rejections
    union
    select metric_date from quarantine
    union
    select metric_date from transition_days
    union
    select metric_date from task_days
    union
    select metric_date from late_days
    {%- endif %}
),

measured as (
    select
        all_days.metric_date,
        coalesce(loads.load_batches, 0) as load_batches,
        coalesce(loads.rows_read, 0) as rows_read,
        coalesce(loads.rows_loaded, 0) as rows_loaded,
        coalesce(loads.rows_rejected, 0) as rows_rejected,
        coalesce(loads.failed_files, 0) as failed_files,
        coalesce(rejections.rejected_by_reason, '{}'::jsonb) as rejected_by_reason,
        coalesce(quarantine.quarantined_tasks, 0) as quarantined_tasks,
        coalesce(quarantine.quarantined_by_reason, '{}'::jsonb) as quarantined_by_reason,
        coalesce(transition_days.invalid_transitions, 0) as invalid_transitions,
        coalesce(task_days.total_tasks, 0) as total_tasks,
        coalesce(task_days.failed_tasks, 0) as failed_tasks,
        coalesce(task_days.timed_out_tasks, 0) as timed_out_tasks,
        coalesce(task_days.negative_savings_tasks, 0) as negative_savings_tasks,
        coalesce(task_days.tasks_without_price, 0) as tasks_without_price,
        coalesce(task_days.invalid_cost_tasks, 0) as invalid_cost_tasks,
        coalesce(late_days.late_arriving_versions, 0) as late_arriving_versions,
        round(100.0 * task_days.invalid_cost_tasks / nullif(task_days.total_tasks, 0), 2)
            as invalid_cost_percentage,
        round(100.0 * task_days.failed_tasks / nullif(task_days.total_tasks, 0), 2)
            as failed_task_percentage,
        coalesce(task_days.total_tasks, 0) >= {{ var('dq_min_daily_tasks') }} as is_judged,
        {{ dq_in_judged_window('all_days.metric_date') }} as is_in_judged_window
    from all_days
    left join loads on all_days.metric_date = loads.metric_date
    left join rejections on all_days.metric_date = rejections.metric_date
    left join quarantine on all_days.metric_date = quarantine.metric_date
    left join transition_days on all_days.metric_date = transition_days.metric_date
    left join task_days on all_days.metric_date = task_days.metric_date
    left join late_days on all_days.metric_date = late_days.metric_date
),

-- the timed-out counts the trailing averages read: the days computed here and, on an
-- incremental build, the stored days before them
timeline as (
    select
        measured.metric_date,
        measured.timed_out_tasks
    from measured
    {%- if is_incremental() %}
    union all
    select
        previous_build.metric_date,
        previous_build.timed_out_tasks
    from {{ this }} as previous_build
    where
        previous_build.metric_date not in (select measured.metric_date from measured)
        and previous_build.metric_date >= (select min(measured.metric_date) from measured) - 7
    {%- endif %}
),

trended as (
    select
        measured.*,
        -- days without a row had no timed-out tasks, hence the sum over 7 days / 7
        round(
            coalesce(
                (
                    select sum(timeline.timed_out_tasks) from timeline
                    where
                        timeline.metric_date >= measured.metric_date - 7
                        and timeline.metric_date < measured.metric_date
                ),
                0
            ) / 7.0,
            2
        ) as timed_out_trailing_average
    from measured
),

rated as (
    select
        *,
        case
            when
                is_judged
                and invalid_cost_tasks > {{ var('dq_invalid_cost_max_share') }} * total_tasks
                then 'critical'
            else 'ok'
        end as invalid_cost_status,
        case
            when
                is_judged
                and failed_tasks > {{ var('dq_failed_task_error_share') }} * total_tasks
                then 'critical'
            when
                is_judged
                and failed_tasks > {{ var('dq_failed_task_warn_share') }} * total_tasks
                then 'warning'
            else 'ok'
        end as failed_task_status,
        case
            when failed_files > 0 then 'critical'
            when rows_rejected > 0 then 'warning'
            else 'ok'
        end as load_status,
        case when quarantined_tasks > 0 then 'warning' else 'ok' end as quarantine_status,
        case when invalid_transitions > 0 then 'warning' else 'ok' end as transition_status,
        case when tasks_without_price > 0 then 'warning' else 'ok' end as pricing_status,
        case when negative_savings_tasks > 0 then 'warning' else 'ok' end as savings_status,
        case
            when
                timed_out_tasks >= {{ var('dq_timed_out_spike_min_tasks') }}
                and timed_out_tasks
                > {{ var('dq_timed_out_spike_factor') }} * timed_out_trailing_average
                then 'warning'
            else 'ok'
        end as timed_out_status
    from trended
),

final as (
    select
        *,
        case
            when
                'critical' in (
                    invalid_cost_status, failed_task_status, load_status, quarantine_status,
                    transition_status, pricing_status, savings_status, timed_out_status
                )
                then 'critical'
            when
                'warning' in (
                    invalid_cost_status, failed_task_status, load_status, quarantine_status,
                    transition_status, pricing_status, savings_status, timed_out_status
                )
                then 'warning'
            else 'ok'
        end as status
    from rated
)

select * from final
