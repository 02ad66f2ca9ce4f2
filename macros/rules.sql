{#- Business rules that more than one model applies, each written once. -#}

{#- The provider a task's savings are measured against: the organization's default provider,
    else the dbt var `baseline_provider`. -#}
{% macro baseline_provider(default_provider) -%}
    coalesce({{ default_provider }}, '{{ var("baseline_provider") }}')
{%- endmacro %}

{#- A task still pending or running, without an end time, that started more than
    `timeout_minutes` before the build's as_of has timed out (true/false). -#}
{% macro is_timed_out(status, ended_at, started_at, as_of_sql=none) -%}
    (
        {{ status }} in ('pending', 'running')
        and {{ ended_at }} is null
        and {{ started_at }} < {{ as_of_sql or as_of() }}
            - interval '{{ var("timeout_minutes") }} minutes'
    )
{%- endmacro %}

{#- A task's status as of the build: timed_out when it has timed out, else as reported. -#}
{% macro effective_status(status, ended_at, started_at, as_of_sql=none) -%}
    case
        when {{ is_timed_out(status, ended_at, started_at, as_of_sql) }} then 'timed_out'
        else {{ status }}
    end
{%- endmacro %}

{#- Position of a status in the lifecycle pending -> running -> completed | failed (0 for an
    unknown status): among versions written at the same instant, the later stage wins. -#}
{% macro status_lifecycle_rank(status) -%}
    case {{ status }}
        when 'pending' then 1
        when 'running' then 2
        when 'completed' then 3
        when 'failed' then 3
        else 0
    end
{%- endmacro %}

{#- Sum of a column over the completed tasks of a group (failed, timed-out and unfinished
    tasks carry no cost, duration or tokens in the rollups). -#}
{% macro completed_sum(column) -%}
    sum({{ column }}) filter (where status = 'completed')
{%- endmacro %}

{#- The cents rule: a day's (or an hour's) exact sum rounded to cents; 0 when empty. A week or
    a month is the sum of its days' cents (from the rollups' day state), so a subject's rows add up. -#}
{% macro cents(exact_sum) -%}
    round(coalesce({{ exact_sum }}, 0), 2)
{%- endmacro %}
