{#- Each budget's newest version, checked: quarantine_reason names the first rule it breaks
    (empty for a budget analytics.budget_status uses; monitoring.quarantined_billing_records
    lists the others). One budget per scope (organization, or team) and month counts: of two,
    the later updated wins. -#}
with newest as (
    select * from {{ ref('stg_platform__budgets') }}
),

scoped as (
    select
        newest.*,
        organizations.organization_id is not null as is_known_organization,
        teams.organization_id as team_organization_id,
        first_value(newest.budget_id) over (
            partition by newest.organization_id, newest.team_id, newest.month_start
            order by newest.updated_at desc, newest.loaded_at desc, newest.budget_id desc
        ) as scope_winner_id
    from newest
    left join {{ ref('stg_platform__organizations') }} as organizations
        on newest.organization_id = organizations.organization_id
    left join {{ ref('stg_platform__teams') }} as teams
        on newest.team_id = teams.team_id
),

reasons as (
    select
        *,
        case
            when amount_usd <= 0 then 'non_positive_amount'
            when
                budget_month
                <> date_trunc('month', budget_month at time zone 'UTC') at time zone 'UTC'
                then 'not_a_month_start'
            when not is_known_organization then 'unknown_organization'
            when team_id is not null and team_organization_id is null then 'unknown_team'
            when team_id is not null and team_organization_id <> organization_id
                then 'team_of_another_organization'
            when budget_id <> scope_winner_id then 'replaced'
        end as quarantine_reason
    from scoped
),

final as (
    select
        budget_id,
        organization_id,
        team_id,
        case when team_id is null then 'organization' else 'team' end as budget_scope,
        month_start,
        amount_usd,
        quarantine_reason,
        case quarantine_reason
            when 'non_positive_amount' then 'amount_usd must be positive, not ' || amount_usd
            when 'not_a_month_start'
                then
                    'budget_month must be the first day of a month (00:00 UTC), not '
                    || to_char(budget_month at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            when 'unknown_organization' then 'no organization ' || organization_id
            when 'unknown_team' then 'no team ' || team_id
            when 'team_of_another_organization'
                then 'team ' || team_id || ' is not a team of organization ' || organization_id
            when 'replaced'
                then
                    'replaced by budget ' || scope_winner_id
                    || ', updated later for the same scope and month'
        end as quarantine_detail,
        created_at,
        updated_at,
        loaded_at,
        batch_id,
        source_file,
        source_line
    from reasons
)

select * from final
