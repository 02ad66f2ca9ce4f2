{#- Rank the versions of one record, newest first. Raw tables are append-only; the newest
    version wins by the given version columns, then by load order (the later load, the later
    line), so a duplicate or an older version delivered late never changes the result. -#}
{% macro newest_version_rank(key, version_columns) -%}
    row_number() over (
        partition by {{ key }}
        order by
            {%- for column in version_columns %}
            {{ column }} desc nulls last,
            {%- endfor %}
            _loaded_at desc,
            _batch_id desc,
            _source_line desc
    )
{%- endmacro %}

{#- The versions a newest-version table ranks (a select over `source`, a relation with the
    raw columns id and _batch_id), up to the build's batch horizon: on an incremental build,
    every version of the records that received a version since the table's previous build
    (newest last_batch_id), found through the raw (_batch_id) and (id, ...) indexes; else every
    version. -#}
{% macro versions_to_rank(source) -%}
    select versions.*
    from {{ source }} as versions
    where
        versions._batch_id <= {{ batch_horizon() }}
        {%- if is_incremental() %}
        and versions.id in (
            select changed.id
            from {{ source }} as changed
            where
                changed._batch_id > {{ stored_value(
                    'select coalesce(max(last_batch_id), 0) from ' ~ this, 'bigint'
                ) }}
                and changed._batch_id <= {{ batch_horizon() }}
        )
        {%- endif %}
{%- endmacro %}
