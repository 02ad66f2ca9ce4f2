{#- Rules of monitoring.data_quality_daily. -#}

{#- True for the days the data tests and the alert rules judge: the `dq_threshold_days`
    before the build's as_of. -#}
{% macro dq_in_judged_window(day) -%}
    {{ day }} > {{ utc_date(as_of()) }} - {{ var('dq_threshold_days') }}
{%- endmacro %}

{#- True for a day with nothing to report: no load, no rejected row, no task, no quarantined
    task, no invalid transition, no late version. A full build has no such day; an
    incremental one computes every affected day and deletes these afterwards. -#}
{% macro dq_day_is_empty() -%}
    load_batches = 0
    and rejected_by_reason = '{}'::jsonb
    and total_tasks = 0
    and quarantined_tasks = 0
    and invalid_transitions = 0
    and late_arriving_versions = 0
{%- endmacro %}
