{#- The newest version of each budget (raw.budgets); int_budgets_checked checks them. -#}
with source as (
    select * from {{ source('platform', 'budgets') }}
),

ranked as (
    select
        *,
        {{ newest_version_rank('id', ['updated_at']) }} as version_rank
    from source
),

newest as (
    select
        id as budget_id,
        organization_id,
        team_id,
        budget_month,
        (budget_month at time zone 'UTC')::date as month_start,
        amount_usd,
        created_at,
        updated_at,
        _loaded_at as loaded_at,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_line as source_line
    from ranked
    where version_rank = 1
)

select * from newest
