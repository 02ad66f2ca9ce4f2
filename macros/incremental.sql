{#- Helpers of the incremental marts. A mart stores on every row it (re)builds the newest
    load batch the build could see (`built_from_batch_id`, from int_batch_watermark); the next
    build treats rows of later batches as changed. -#}

{#- The watermark of the previous build of this model (0 when empty). -#}
{% macro previous_watermark() -%}
    (select coalesce(max(built_from_batch_id), 0) from {{ this }})
{%- endmacro %}

{#- The watermark of this build. -#}
{% macro current_watermark() -%}
    (select batch_id from {{ ref('int_batch_watermark') }})
{%- endmacro %}

{#- Every version of the tasks that received a version since the previous build: the periods
    such a task belongs to now and belonged to before. -#}
{% macro changed_task_versions() -%}
    select * from {{ ref('stg_platform__task_execution_versions') }}
    where task_execution_id in (
        select task_execution_id from {{ ref('stg_platform__task_execution_versions') }}
        where batch_id > {{ previous_watermark() }}
    )
{%- endmacro %}

{#- When this model last rebuilt any row ('-infinity' when empty). Rows of upstream marts
    rebuilt after it (for whatever reason) are changes to take in. -#}
{% macro previous_build_time() -%}
    (select coalesce(max(built_at), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}
