{#- Which rows a generic data test reads. dbt wraps the model of every generic test in
    get_where_subquery(); this project's version narrows the tests of a model that records
    when each row was built (`built_at`: the incremental marts) to the rows of its latest
    build, so that a daily or hourly build tests what it changed and its cost follows new data.
    Every row is tested when the var `full_test_sweep` is true (the weekly sweep), on
    --full-refresh, and by tests configured `full_table: true` (those comparing rows of
    different builds, such as weekly rows against their days, which narrow themselves). A
    test's own `where` config applies as usual. A singular test reads a model the same way
    with `from {{ get_where_subquery(ref('...')) }}`. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and not is_full_test_sweep() and not config.get('full_table', false) -%}
        {%- if 'built_at' in relation_columns(relation) -%}
            {#- a literal, read now: PostgreSQL plans `built_at = <that time>` through the
                built_at index, where a subquery's generic estimate made it scan the table -#}
            {%- set latest = run_query(
                'select max(built_at)::text from ' ~ relation
            ).columns[0].values()[0] -%}
            {%- if latest is none -%}
                {%- do conditions.append('false') -%}
            {%- else -%}
                {%- do conditions.append("built_at = '" ~ latest ~ "'::timestamptz") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ')
            ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- True when this run tests every row: the var `full_test_sweep`, or --full-refresh. -#}
{% macro is_full_test_sweep() -%}
    {%- do return(var('full_test_sweep', false) in (true, 'true', 'True', 1, '1')
        or flags.FULL_REFRESH) -%}
{%- endmacro %}

{#- The column names of ``relation``: those documented for the model a generic test is attached
    to (from the manifest: no query at each test's compilation; tests/test_data_tests.py checks
    that a tested model with a built_at column documents it), else the database's (a singular
    test, a source). -#}
{% macro relation_columns(relation) -%}
    {%- set attached = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if attached is not none and attached.resource_type == 'model' -%}
        {%- do return(attached.columns.keys() | list) -%}
    {%- endif -%}
    {%- do return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) -%}
{%- endmacro %}
