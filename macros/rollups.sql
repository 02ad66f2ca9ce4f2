{#- The pipeline the three rollups (organization_analytics, user_analytics,
    provider_performance_metrics) share; each model keeps its subject, measures and triggers. -#}

{#- CTEs (to follow a `with ...,` list; ends with a comma) that give the task rows a rollup
    aggregates, one per period they belong to:
    - period_keys: the (subject, aggregation_period, period_start) to build; period_start is a
      date, or a timestamp (UTC wall-clock time) when `kinds` has 'hourly'. A full build takes
      every period with a row. An incremental build takes the periods of the days a change
      touched: days of every version of a task that received a version since the previous
      build (where it belongs now and belonged before), days of tasks rebuilt since this
      model's last build, and days of tasks matching `extra_trigger`; minus the periods frozen
      by retention (without_purged_periods);
    - task_periods: the rows of those periods, each with its aggregation_period and
      period_start. An incremental build finds them from the keys (subject and start-time
      range: an index on the subject columns and start_time serves it), so its cost follows
      the periods rebuilt, not the history.
    `tasks` is a CTE of every mart task (for the triggers); `rows` is the CTE of the rows
    measured (tasks, or a subset such as finished tasks), with the subject columns, start_time
    and start_date; both should be `not materialized` (each is read several times, always
    narrowed). `subject` lists the subject columns; `extra_trigger` is a SQL condition over
    `tasks` marking more tasks whose days to rebuild (or none). -#}
{% macro rollup_periods(tasks, rows, subject, kinds, extra_trigger=none) -%}
{#- what the incremental branch reads, referenced here so that dbt knows the model needs it
    even while parsing (when is_incremental() is false) -#}
{%- do ref('stg_platform__task_execution_versions') -%}
{%- do ref('int_batch_watermark') -%}
{%- set period_key = subject + ['aggregation_period', 'period_start'] -%}
{%- set daily_kinds = kinds | reject('equalto', 'hourly') | list -%}
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
        {%- if 'hourly' in kinds %}::timestamp{% endif %} as period_start
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

period_keys as (
    {{ without_purged_periods('candidate_keys', subject, rows, 'affected_days') }}
),

{#- lateral (kept apart by offset 0): each period key reads its own tasks through the
    (subject, start_time) index, where a join may have PostgreSQL read every task of the
    subject -#}
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
),

{% else -%}
task_periods as (
    select
        {{ rows }}.*,
        period_kinds.aggregation_period,
        {% if 'hourly' in kinds -%}
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
    cross join {{ period_kinds(kinds) }}
),

period_keys as (
    select distinct
        {% for column in period_key -%}
        {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from task_periods
),

{% endif -%}
{%- endmacro %}

{#- A select of money columns in cents per period: each day's exact sum of completed tasks
    rounded to cents, then summed over the period's days (an hour or a day is its own sum).
    `measures` maps each output column to the task column it sums. -#}
{% macro rollup_day_cents(task_periods, period_key, measures) -%}
select
    {% for column in period_key -%}
    days.{{ column }},
    {% endfor -%}
    {% for name in measures -%}
    sum(days.{{ name }}) as {{ name }}{% if not loop.last %},{% endif %}
    {% endfor -%}
from (
    select
        {% for column in period_key -%}
        {{ column }},
        {% endfor -%}
        start_date,
        {% for name, column in measures.items() -%}
        {{ cents(completed_sum(column)) }} as {{ name }}{% if not loop.last %},{% endif %}
        {% endfor -%}
    from {{ task_periods }}
    group by {{ period_key | join(', ') }}, start_date
) as days
group by {{ period_key | join(', ') }}
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
