{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'provider_pricing'}}}) }}
-- "missing provider pricing": providers that ran tasks but have no pricing row at all; their
-- tasks are costed with the reported cost (cost_source = 'reported'). A warning, listed.
-- The tasks of the latest build, as a generic test reads them (macros/test_scope.sql); every
-- task on the weekly sweep.
with tasks as (
    select * from {{ get_where_subquery(ref('task_executions')) }}
),

pricing as (
    select * from {{ ref('provider_pricing') }}
),

missing as (
    select
        tasks.provider,
        count(*) as task_count
    from tasks
    left join pricing
        on tasks.provider = pricing.provider
    where pricing.id is null
    group by tasks.provider
)

select * from missing
