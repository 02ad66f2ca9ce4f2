{#- The pipeline the three rollups (organization_analytics, user_analytics,
    provider_performance_metrics) share; each model keeps its subject, measures and triggers. -#}

{#- CTEs (to follow a `with ...,` list; ends with a comma) that give a rollup the rows of the
    periods it builds, one per period they belong to:
    - period_keys: the (subject, aggregation_period, period_start) to build; period_start is a
      date, or a timestamp (UTC wall-clock time) when `kinds` has 'hourly'. A full build takes
      every period with a row. An incremental build takes the periods of the days a change
      touched: days of every version of a task that received a version since the previous
      build (where it belongs now and belonged before), days of tasks rebuilt since this
      model's last build, and days of tasks matching `extra_trigger`; minus the periods frozen
      by retention: those holding a day of the subject that a retention run purged
      (without_retention_purges), and those holding a day whose tasks are gone from the marts
      with nothing changed there (without_purged_periods; a day's own key is never frozen by
      this one: it is a day that changed).
    - day_periods (with `days`): the rows of `days`, a model with one row per subject and
      start_date (the day's additive state: counts, exact sums, breakdowns), of the daily,
      weekly and monthly periods to build, each with its aggregation_period and period_start.
      A week or a month is computed from at most 31 day rows per subject, never from its tasks,
      so an incremental build's cost follows the days that changed, not the history.
    - task_periods: the rows of `rows` of the periods to build (with `days`: of the hourly
      periods only, when `kinds` has 'hourly'). An incremental build reads them per key
      (subject and start-time range: an index on the subject columns and start_time serves it).
    `tasks` is a CTE of every mart task (for the triggers); `rows` is the CTE of the rows
    measured (tasks, or a subset such as finished tasks), with the subject columns, start_time
    and start_date; both should be `not materialized` (each is read several times, always
    narrowed). `subject` lists the subject columns; `extra_trigger` is a SQL condition over
    `tasks` marking more tasks whose days to rebuild (or none). -#}
{% macro rollup_periods(tasks, rows, subject, kinds, extra_trigger=none, days=none) -%}
{#- what the incremental branch reads, referenced here so that dbt knows the model needs it
    even while parsing (when is_incremental() is false) -#}
{%- do ref('stg_platform__task_execution_versions') -%}
{%- do ref('int_batch_watermark') -%}
{%- do ref('stg_platform__retention_purged_days') -%}
{%- set period_key = subject + ['aggregation_period', 'period_start'] -%}
{%- set daily_kinds = kinds | reject('equalto', 'hourly') | list -%}
{%- set task_kinds = (['hourly'] if 'hourly' in kinds else []) if days else kinds -%}
{%- set start_type = '::timestamp' if 'hourly' in kinds else '' -%}
{% if is_incremental() -%}
affected_days as (
    select
        {% for column in subject -%}
        changed.{{ column }},
        {% endfor -%}
        changed.start_date
    from ({{ changed_task_versions() }}) as changed
    {#- one select per trigger (an `or` would keep PostgreSQL from using an index) #}
    {%- set triggers = [tasks ~ '.built_at > ' ~ previous_build_time(), extra_trigger] %}
    {%- for trigger in triggers if trigger %}
    union
    select
        {% for column in subject -%}
        {{ tasks }}.{{ column }},
        {% endfor -%}
        {{ tasks }}.start_date
    from {{ tasks }}
    where {{ trigger }}
    {%- endfor %}
),

candidate_keys as (
    select distinct
        {% for column in subject -%}
        affected_days.{{ column }},
        {% endfor -%}
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'affected_days.start_date') }}
        {{- start_type }} as period_start
    from affected_days
    cross join {{ period_kinds(daily_kinds) }}
    {%- if 'hourly' in kinds %}
    union
    select distinct
        {% for column in subject -%}
        affected_days.{{ column }},
        {% endfor -%}
        'hourly' as aggregation_period,
        hours.hour_start as period_start
    from affected_days
    cross join lateral generate_series(
        affected_days.start_date::timestamp,
        affected_days.start_date::timestamp + interval '23 hours',
        interval '1 hour'
    ) as hours (hour_start)
    {%- endif %}
),

unpurged_keys as (
    {{ without_retention_purges('candidate_keys', subject) }}
),

period_keys as (
    {%- if kinds == ['daily'] %}
    select * from unpurged_keys
    {%- else %}
    {{ without_purged_periods('unpurged_keys', subject, rows, 'affected_days') }}
    {%- endif %}
),

{#- lateral (kept apart by offset 0): each period key reads its own rows through the index
    on (subject, start), where a join may have PostgreSQL read every row of the subject -#}
{% if days -%}
day_periods as (
    select
        period_days.*,
        period_keys.aggregation_period,
        period_keys.period_start
    from period_keys
    cross join lateral (
        select days.*
        from {{ days }} as days
        where
            {%- for column in subject %}
            days.{{ column }} = period_keys.{{ column }}
            and
            {%- endfor %}
            days.start_date >= period_keys.period_start::date
            and days.start_date < ({{ period_end(
                'period_keys.aggregation_period', 'period_keys.period_start') }})::date
        offset 0
    ) as period_days
    where period_keys.aggregation_period != 'hourly'
),

{% endif -%}
{% if task_kinds -%}
task_periods as (
    select
        period_rows.*,
        period_keys.aggregation_period,
        period_keys.period_start
    from period_keys
    cross join lateral (
        select {{ rows }}.*
        from {{ rows }}
        where
            {%- for column in subject %}
            {{ rows }}.{{ column }} = period_keys.{{ column }}
            and
            {%- endfor %}
            {{ rows }}.start_time >= {{ utc_midnight('period_keys.period_start') }}
            and {{ rows }}.start_time < {{ utc_midnight(period_end(
                'period_keys.aggregation_period', 'period_keys.period_start')) }}
        offset 0
    ) as period_rows
    {%- if days %}
    where period_keys.aggregation_period = 'hourly'
    {%- endif %}
),

{% endif -%}
{% else -%}
{% if days -%}
day_periods as (
    select
        days.*,
        period_kinds.aggregation_period,
        {{ period_start_date('period_kinds.aggregation_period', 'days.start_date') }}
        {{- start_type }} as period_start
    from {{ days }} as days
    cross join {{ period_kinds(daily_kinds) }}
),

{% endif -%}
{% if task_kinds -%}
task_periods as (
    select
        {{ rows }}.*,
        period_kinds.aggregation_period,
        {% if 'hourly' in task_kinds -%}
        case
            when period_kinds.aggregation_period = 'hourly'
                then date_trunc('hour', {{ rows }}.start_time at time zone 'utc')
            else {{ period_start_date('period_kinds.aggregation_period', rows ~ '.start_date') }}
        end as period_start
        {%- else -%}
        {{ period_start_date('period_kinds.aggregation_period', rows ~ '.start_date') }}
            as period_start
        {%- endif %}
    from {{ rows }}
    cross join {{ period_kinds(task_kinds) }}
),

{% endif -%}
period_keys as (
    {%- for relation in (['day_periods'] if days else []) + (['task_periods'] if task_kinds else []) %}
    {% if not loop.first %}union{% endif %}
    select distinct
        {% for column in period_key -%}
        {{ column }}{% if not loop.last %},{% endif %}
        {% endfor -%}
    from {{ relation }}
    {%- endfor %}
),

{% endif -%}
{%- endmacro %}

{#- A select of a jsonb breakdown per period: `{value of dimension: task count}` as
    `count_column`; optionally `{value: completed tasks' cost}` as `cost_column` and the value
    with most tasks (ties alphabetically) as `most_used_column`. -#}
{% macro rollup_breakdown(task_periods, period_key, dimension, count_column,
    cost_column=none, most_used_column=none) -%}
select
    {% for column in period_key -%}
    counts.{{ column }},
    {% endfor -%}
    jsonb_object_agg(counts.{{ dimension }}, counts.task_count) as {{ count_column }}
    {%- if cost_column %},
    jsonb_object_agg(counts.{{ dimension }}, counts.completed_cost) as {{ cost_column }}
    {%- endif %}
    {%- if most_used_column %},
    (array_agg(counts.{{ dimension }} order by counts.task_count desc, counts.{{ dimension }}))[1]
        as {{ most_used_column }}
    {%- endif %}
from (
    select
        {% for column in period_key -%}
        {{ column }},
        {% endfor -%}
        {{ dimension }},
        count(*) as task_count
        {%- if cost_column %},
        coalesce({{ completed_sum('cost_usd') }}, 0) as completed_cost
        {%- endif %}
    from {{ task_periods }}
    group by {{ period_key | join(', ') }}, {{ dimension }}
) as counts
group by {{ period_key | join(', ') }}
{%- endmacro %}

{#- A select of a jsonb breakdown per period merged from day rows (day_periods of
    rollup_periods): each key's values summed over the period's days, as `column`; optionally
    the key with the largest total (ties alphabetically) as `most_used_column`. -#}
{% macro rollup_merged_breakdown(day_periods, period_key, column, most_used_column=none) -%}
select
    {% for key_column in period_key -%}
    merged.{{ key_column }},
    {% endfor -%}
    jsonb_object_agg(merged.key, merged.total) as {{ column }}
    {%- if most_used_column %},
    (array_agg(merged.key order by merged.total desc, merged.key))[1] as {{ most_used_column }}
    {%- endif %}
from (
    select
        {% for key_column in period_key -%}
        {{ day_periods }}.{{ key_column }},
        {% endfor -%}
        entries.key,
        sum(entries.value::numeric) as total
    from {{ day_periods }}
    cross join lateral jsonb_each_text({{ day_periods }}.{{ column }}) as entries
    group by {{ period_key | join(', ') }}, entries.key
) as merged
group by {{ period_key | join(', ') }}
{%- endmacro %}

{#- `left join` each relation in `relations` to `base` on the key columns. -#}
{% macro left_join_each(base, relations, key) -%}
    {%- for relation in relations %}
    left join {{ relation }}
        on {{ keys_match(base, relation, key) }}
    {%- endfor %}
{%- endmacro %}

{#- The task columns the rollups read. Their import CTE names them rather than `select *`: the
    rows of the periods a build computes are materialized once (several aggregates read
    them), and the task's free text and JSON would multiply what is written to disk. -#}
{% macro rollup_task_columns() -%}
    id, organization_id, user_id, provider, task_type, status, start_time, start_date,
    duration_ms, tokens_used, cost_usd, baseline_cost_usd, savings_usd, built_at
{%- endmacro %}
