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
