{#- The task pipeline's steps, shared by the marts' models and the live view
    (analytics.live_task_executions), so that a task costs the same on both paths. Each macro
    emits CTEs (no leading `with`), reading the CTE or relation it is given. -#}

{#- The newest version of each task among `versions` (raw task versions: every version of each
    task they hold), typed, with the hard rules' flags: stg_platform__task_executions' body.
    Ends in CTE `newest_task_versions`. -#}
{% macro newest_task_version_ctes(versions) %}
versioned as (
    select
        *,
        lower(trim(status)) as normalized_status,
        {{ status_lifecycle_rank('lower(trim(status))') }} as status_rank
    from {{ versions }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['updated_at', 'status_rank']) }} as version_rank,
        count(*) over (partition by id) as version_count,
        min(_loaded_at) over (partition by id) as first_loaded_at,
        max(_batch_id) over (partition by id) as last_batch_id
    from versioned
),

latest as (
    select * from ranked
    where version_rank = 1
),

newest_task_versions as (
    select
        id as task_execution_id,
        task_id,
        user_id,
        organization_id,
        lower(trim(task_type)) as task_type,
        task_description,
        lower(trim(code_language)) as code_language,
        lower(trim(provider)) as provider,
        routing_reason,
        alternative_providers,
        start_time as started_at,
        end_time as ended_at,
        case
            when end_time is not null and end_time >= start_time
                then round(extract(epoch from end_time - start_time) * 1000)::bigint
        end as duration_ms,
        duration_ms as reported_duration_ms,
        coalesce(tokens_used, 0) as tokens_used,
        cost_usd as reported_cost_usd,
        baseline_cost_usd as reported_baseline_cost_usd,
        savings_usd as reported_savings_usd,
        normalized_status as status,
        error_message,
        created_at,
        updated_at,
        version_count,
        first_loaded_at,
        last_batch_id,
        {{ run_started_at_literal() }} as built_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id,
        normalized_status not in ('pending', 'running', 'completed', 'failed')
            as has_unknown_status,
        coalesce(cost_usd < 0, false) as has_negative_reported_cost,
        cost_usd is null as is_missing_reported_cost,
        coalesce(end_time < start_time, false) as has_end_before_start,
        normalized_status = 'completed' and end_time is null as is_completed_without_end
    from latest
)
{% endmacro %}


{#- Each task of `executions` (newest versions) with its organization's tier and baseline provider
    and the hard rule it breaks first (quarantine_reason): int_task_executions_checked's body.
    Ends in CTE `checked_tasks`. -#}
{% macro checked_task_ctes(executions) %}
organizations as (
    select * from {{ ref('stg_platform__organizations') }}
),

users as (
    select * from {{ ref('stg_platform__users') }}
),

joined as (
    select
        executions.*,
        organizations.pricing_tier,
        organizations.default_provider,
        {{ baseline_provider('organizations.default_provider') }} as baseline_provider,
        organizations.organization_id is not null as has_known_organization,
        users.user_id is not null as has_known_user
    from {{ executions }} as executions
    left join organizations
        on executions.organization_id = organizations.organization_id
    left join users
        on executions.user_id = users.user_id
),

checked_tasks as (
    select
        *,
        case
            when has_unknown_status then 'unknown_status'
            when has_negative_reported_cost then 'negative_cost'
            when has_end_before_start then 'end_before_start'
            when is_completed_without_end then 'completed_without_end'
            when not has_known_organization then 'unknown_organization'
            when not has_known_user then 'unknown_user'
        end as quarantine_reason
    from joined
)
{% endmacro %}


{#- Cost, baseline and savings of each task of `checked` that is not quarantined, with the pricing
    rows used, and the status as of `as_of_sql` (default: the build's as_of): int_task_costs'
    body. Ends in CTE `costed_tasks`. -#}
{% macro costed_task_ctes(checked, as_of_sql=none) %}
tasks as (
    select * from {{ checked }}
    where quarantine_reason is null
),

pricing as (
    select * from {{ ref('stg_platform__provider_pricing') }}
    where not has_empty_window
),

priced as (
    select
        task_rows.*,
        price.provider_pricing_id as pricing_id,
        {{ priced_cost('price', 'task_rows.tokens_used', 'task_rows.duration_ms') }}
            as priced_cost_usd,
        baseline_price.provider_pricing_id as baseline_pricing_id,
        {{ priced_cost('baseline_price', 'task_rows.tokens_used', 'task_rows.duration_ms') }}
            as priced_baseline_cost_usd
    from tasks as task_rows
    left join lateral (
        {{ applicable_price(
            'pricing', 'task_rows.provider', 'task_rows.task_type', 'task_rows.pricing_tier',
            'task_rows.started_at') }}
    ) as price on true
    left join lateral (
        {{ applicable_price(
            'pricing', 'task_rows.baseline_provider', 'task_rows.task_type',
            'task_rows.pricing_tier', 'task_rows.started_at') }}
    ) as baseline_price on true
),

costed as (
    select
        *,
        coalesce(priced_cost_usd, round(reported_cost_usd, 6)) as cost_usd,
        case
            when priced_cost_usd is not null then 'pricing'
            when reported_cost_usd is not null then 'reported'
            else 'missing'
        end as cost_source,
        case
            when priced_baseline_cost_usd is not null then 'pricing'
            when reported_baseline_cost_usd is not null then 'reported'
            when coalesce(priced_cost_usd, reported_cost_usd) is not null then 'cost'
            else 'missing'
        end as baseline_source
    from priced
),

costed_tasks as (
    select
        *,
        coalesce(
            priced_baseline_cost_usd, round(reported_baseline_cost_usd, 6), cost_usd
        ) as baseline_cost_usd,
        coalesce(
            priced_baseline_cost_usd, round(reported_baseline_cost_usd, 6), cost_usd
        ) - cost_usd as savings_usd,
        {{ effective_status('status', 'ended_at', 'started_at', as_of_sql) }} as effective_status
    from costed
)
{% endmacro %}


{#- The columns of analytics.task_executions from a CTE of costed_task_ctes(), but its build's
    bookkeeping (built_from_batch_id, built_at): shared with the live view, which passes the
    status's expression (as of now) for rows of the live store. -#}
{% macro task_execution_mart_columns(status_sql='effective_status') %}
        task_execution_id as id,
        task_id::varchar(255) as task_id,
        user_id,
        organization_id,
        task_type::varchar(100) as task_type,
        task_description,
        code_language::varchar(50) as code_language,
        provider::varchar(100) as provider,
        routing_reason,
        alternative_providers,
        started_at as start_time,
        ended_at as end_time,
        duration_ms::integer as duration_ms,
        tokens_used::integer as tokens_used,
        cost_usd::numeric(10, 6) as cost_usd,
        baseline_cost_usd::numeric(10, 6) as baseline_cost_usd,
        savings_usd::numeric(10, 6) as savings_usd,
        ({{ status_sql }})::varchar(50) as status,
        error_message,
        created_at,
        updated_at,
        status::varchar(50) as reported_status,
        cost_source,
        pricing_id,
        baseline_provider,
        baseline_source,
        baseline_pricing_id,
        {{ utc_date('started_at') }} as start_date,
        batch_id,
        version_count
{%- endmacro %}


{#- The current picture of the tasks matching `where_sql` (a condition on the mart's columns):
    the marts' tasks that did not change since the last build, plus the live view's (which
    holds those that did), with `columns` and is_live; no task twice. The live view is computed
    once (a materialized CTE: the anti-join and the second branch read the same rows, and each
    computation ranks, checks and prices every task that changed since the build); the
    condition is applied to each side, so the mart is read through its indexes. -#}
{% macro current_task_executions(columns, where_sql) %}
    with live_task as materialized (
        select * from {{ ref('live_task_executions') }}
    )

    select {{ columns | join(', ') }}, false as is_live
    from {{ ref('task_executions') }} as built_task
    where
        ({{ where_sql }})
        and not exists (
            select from live_task
            where live_task.id = built_task.id
        )
    union all
    select {{ columns | join(', ') }}, true as is_live
    from live_task
    where {{ where_sql }}
{% endmacro %}
