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
        {{ query_literal(query, type) }}
    {%- else -%}
        ({{ query }})
    {%- endif -%}
{%- endmacro %}

{#- The value of `query` (one row, one column) read when `model` is built, as a typed literal,
    for a view whose plan needs a bound PostgreSQL can estimate (stored_value's reason); the
    query itself when `relation` does not exist yet or before execution. The view must stay
    exact without it: use it as a redundant, looser condition beside the exact one. -#}
{% macro value_when_built(query, type, relation) -%}
    {%- if execute and load_relation(relation) is not none -%}
        {{ query_literal(query, type) }}
    {%- else -%}
        ({{ query }})
    {%- endif -%}
{%- endmacro %}

{#- The value of `query` (one row, one column), run now, as a typed literal. -#}
{% macro query_literal(query, type) -%}
    {%- set value = run_query('select (' ~ query ~ ')::text').columns[0].values()[0] -%}
    '{{ value }}'::{{ type }}
{%- endmacro %}

{#- The watermark of this build. -#}
{% macro current_watermark() -%}
    (select batch_id from {{ ref('int_batch_watermark') }})
{%- endmacro %}

{#- Every version of the tasks that received a version since the previous build: the periods
    such a task belongs to now and belonged to before. -#}
{% macro changed_task_versions(watermark=none) -%}
    select * from {{ ref('stg_platform__task_execution_versions') }}
    where task_execution_id = any(array(
        select task_execution_id from {{ ref('stg_platform__task_execution_versions') }}
        where batch_id > {{ watermark if watermark is not none else previous_watermark() }}
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

{#- The candidates (a relation with the `subject` columns, aggregation_period and
    `start_column`) whose period holds no day of their subject that a retention run purged
    (stg_platform__retention_purged_days). Rebuilding such a period, or such a day's state,
    from the tasks that remain would change an aggregate that must stay as it was: a provider's
    day can hold tasks of an organization whose retention is shorter than another's. -#}
{% macro without_retention_purges(candidates, subject, start_column='period_start') -%}
    select candidates.*
    from {{ candidates }} as candidates
    where not exists (
        select 1
        from {{ ref('stg_platform__retention_purged_days') }} as purged
        where
            {% for column in subject -%}
            purged.{{ column }} = candidates.{{ column }}
            and
            {% endfor -%}
            purged.start_date::timestamp < {{ period_end('candidates.aggregation_period',
                'candidates.' ~ start_column ~ '::timestamp') }}
            and purged.start_date + 1 > candidates.{{ start_column }}::timestamp
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
    {{ stored_value(
        'select coalesce(max(built_from_batch_id), 0) from ' ~ this
        ~ ' where built_at < ' ~ run_started_at_literal(), 'bigint'
    ) }}
{%- endmacro %}

{#- Models whose rows can all go away (the monitoring lists, the day-by-day checks) keep the
    watermark and time of their last build in monitoring.build_watermarks, one row per model,
    written by their post-hook record_build_watermark() in the model's own transaction. -#}
{% macro build_watermarks() -%}
    {{ return(api.Relation.create(
        database=target.database,
        schema=generate_schema_name('monitoring', none),
        identifier='build_watermarks',
        type='table',
    )) }}
{%- endmacro %}

{#- on-run-start: the table of build_watermarks(), when it does not exist yet. -#}
{% macro create_build_watermarks() -%}
    create schema if not exists {{ build_watermarks().schema }};
    create table if not exists {{ build_watermarks() }} (
        model text primary key,
        built_from_batch_id bigint not null,
        built_at timestamptz not null
    )
{%- endmacro %}

{#- The watermark of this model's previous build, from build_watermarks() (0 when none). -#}
{% macro stored_watermark() -%}
    {{ stored_value(
        'select coalesce(max(built_from_batch_id), 0) from ' ~ build_watermarks()
        ~ " where model = '" ~ this.schema ~ '.' ~ this.identifier ~ "'", 'bigint'
    ) }}
{%- endmacro %}

{#- When this model's previous build started, from build_watermarks() ('-infinity' when none). -#}
{% macro stored_build_time() -%}
    {{ stored_value(
        "select coalesce(max(built_at), '-infinity'::timestamptz) from " ~ build_watermarks()
        ~ " where model = '" ~ this.schema ~ '.' ~ this.identifier ~ "'", 'timestamptz'
    ) }}
{%- endmacro %}

{#- post-hook: record this build's watermark and start time in build_watermarks(). -#}
{% macro record_build_watermark() -%}
    insert into {{ build_watermarks() }} as stored (model, built_from_batch_id, built_at)
    values (
        '{{ this.schema }}.{{ this.identifier }}',
        {{ current_watermark() }},
        {{ run_started_at_literal() }}
    )
    on conflict (model) do update
    set built_from_batch_id = excluded.built_from_batch_id, built_at = excluded.built_at
{%- endmacro %}

{#- post-hook of a model keyed by task: delete the rows of the tasks `changed` selects
    (task_execution_id) that this run did not rebuild, e.g. a task that left a monitoring list.
    Nothing on a model's first build (no stored watermark yet). -#}
{% macro delete_rows_not_rebuilt(changed, key='task_execution_id') -%}
    {%- set stored = none -%}
    {%- if execute -%}
        {%- set stored = run_query(
            'select built_from_batch_id from ' ~ build_watermarks()
            ~ " where model = '" ~ this.schema ~ '.' ~ this.identifier ~ "'"
        ).columns[0].values() -%}
    {%- endif -%}
    {%- if stored -%}
    delete from {{ this }} as stale
    where
        stale.built_at < {{ run_started_at_literal() }}
        and stale.{{ key }} = any(array({{ changed }}))
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The tasks with a version in a load batch after `watermark`. -#}
{% macro tasks_with_versions_after(watermark) -%}
    select distinct versions.task_execution_id
    from {{ ref('stg_platform__task_execution_versions') }} as versions
    where versions.batch_id > {{ watermark }}
{%- endmacro %}

{#- The tasks whose quarantine verdict may have changed since this model's previous build:
    a new version, or a change to their organization or user (which decides unknown_*). -#}
{% macro tasks_to_check_again() -%}
    {#- joins from the (usually empty) changes: PostgreSQL skips the task table when the
        hashed side is empty -#}
    select tasks.task_execution_id
    from {{ ref('stg_platform__task_executions') }} as tasks
    where tasks.last_batch_id > {{ stored_watermark() }}
    union
    select tasks.task_execution_id
    from {{ ref('stg_platform__organizations') }} as organizations
    inner join {{ ref('stg_platform__task_executions') }} as tasks
        on organizations.organization_id = tasks.organization_id
    where organizations.batch_id > {{ stored_watermark() }}
    union
    select tasks.task_execution_id
    from {{ ref('stg_platform__users') }} as user_rows
    inner join {{ ref('stg_platform__task_executions') }} as tasks
        on user_rows.user_id = tasks.user_id
    where user_rows.batch_id > {{ stored_watermark() }}
{%- endmacro %}

{#- post-hook of every model: statistics for a table this run created (a table model, the first
    or a full-refresh build of an incremental one). Without them the next build's plans are
    guesses until autovacuum gets there: measured at 1 M tasks, the first incremental build
    after a first build ran one rollup for 193 s instead of 2 s. An incremental run's delta
    leaves the statistics good enough and autovacuum follows. -#}
{% macro analyze_created_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') and not is_incremental() -%}
    analyze {{ this }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
