{#- Helpers of the incremental marts. A mart stores on every row it (re)builds the newest
    load batch the build could see (`built_from_batch_id`, from int_batch_watermark); the next
    build treats rows of later batches as changed. -#}

{#- The watermark of the previous build of this model (0 when empty). -#}
{% macro previous_watermark() -%}
    {{ stored_value('select coalesce(max(built_from_batch_id), 0) from ' ~ this, 'bigint') }}
{%- endmacro %}

{#- The value of `query` (one row, one column) over this model's stored rows, as a typed
    literal read when the model runs: PostgreSQL plans `batch_id > 1234` from its statistics,
    where `batch_id > (select max(...))` gets a generic estimate (a third of the table) and
    a plan that reads every row. Before execution (parsing) and outside incremental runs, the
    query itself as a subquery. -#}
{% macro stored_value(query, type) -%}
    {%- if execute and is_incremental() -%}
        {%- set value = run_query('select (' ~ query ~ ')::text').columns[0].values()[0] -%}
        '{{ value }}'::{{ type }}
    {%- else -%}
        ({{ query }})
    {%- endif -%}
{%- endmacro %}

{#- The watermark of this build. -#}
{% macro current_watermark() -%}
    (select batch_id from {{ ref('int_batch_watermark') }})
{%- endmacro %}

{#- Every version of the tasks that received a version since the previous build: the periods
    such a task belongs to now and belonged to before. -#}
{% macro changed_task_versions() -%}
    select * from {{ ref('stg_platform__task_execution_versions') }}
    where task_execution_id = any(array(
        select task_execution_id from {{ ref('stg_platform__task_execution_versions') }}
        where batch_id > {{ previous_watermark() }}
    ))
{%- endmacro %}

{#- When this model last rebuilt any row ('-infinity' when empty). Rows of upstream marts
    rebuilt after it (for whatever reason) are changes to take in. -#}
{% macro previous_build_time() -%}
    {{ stored_value(
        "select coalesce(max(built_at), '-infinity'::timestamptz) from " ~ this, 'timestamptz'
    ) }}
{%- endmacro %}

{#- Periods a rollup must not rebuild any more: those holding a day whose daily row exists
    while task_executions has no task of that subject on that day and nothing changed there,
    i.e. a day whose raw rows retention purged. Rebuilding such a week or month from the tasks
    that remain would change an aggregate that must stay as it was.
    `subject` lists the rollup's subject columns; `candidates` is a relation with them plus
    aggregation_period and `start_column` (a date or timestamp); `days` has the subject columns
    and start_date of tasks that exist or changed. Returns the candidates to keep. -#}
{% macro without_purged_periods(candidates, subject, tasks, affected_days,
    start_column='period_start') -%}
    select candidates.*
    from {{ candidates }} as candidates
    where not exists (
        select 1
        from {{ this }} as previous_days
        where
            previous_days.aggregation_period = 'daily'
            {% for column in subject -%}
            and previous_days.{{ column }} = candidates.{{ column }}
            {% endfor -%}
            and previous_days.metric_date >= candidates.{{ start_column }}
            and previous_days.metric_date < {{ period_end('candidates.aggregation_period',
                'candidates.' ~ start_column) }}
            and not exists (
                select 1 from {{ tasks }} as remaining
                where
                    remaining.start_time >= {{ utc_midnight('previous_days.metric_date') }}
                    and remaining.start_time
                    < {{ utc_midnight("(previous_days.metric_date + 1)") }}
                    {% for column in subject -%}
                    and remaining.{{ column }} = previous_days.{{ column }}
                    {% endfor -%}
                -- offset 0 keeps it a probe per day through the (subject, start_time)
                -- index; as an anti-join PostgreSQL may read every task
                offset 0
            )
            and not exists (
                select 1 from {{ affected_days }} as changed
                where
                    changed.start_date = previous_days.metric_date
                    {% for column in subject -%}
                    and changed.{{ column }} = previous_days.{{ column }}
                    {% endfor %}
            )
    )
{%- endmacro %}

{#- The bookkeeping columns of a rollup row: the watermark and time of the build that made it
    (created_at is the spec's column: when the row was computed). -#}
{% macro rollup_build_columns() -%}
    {{ current_watermark() }} as built_from_batch_id,
    {{ run_started_at_literal() }} as built_at,
    {{ run_started_at_literal() }} as created_at
{%- endmacro %}

{#- The watermark of this model's rows that this run did not rebuild: the watermark of its
    previous build, still known in a post-hook (after this run's rows were inserted). -#}
{% macro watermark_before_this_run() -%}
    (
        select coalesce(max(built_from_batch_id), 0) from {{ this }}
        where built_at < {{ run_started_at_literal() }}
    )
{%- endmacro %}
