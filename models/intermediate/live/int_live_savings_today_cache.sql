{{ config(
    materialized='materialized_view',
    indexes=[{'columns': ['organization_id'], 'unique': true}],
) }}

{#- live_savings_today, cached: refreshed concurrently (never blocking readers) every minute by
    Dagster (warehouse/live.py); each row's computed_at says when. Read through
    analytics.live_savings_today_cached, which filters for the caller (a materialized view has
    no row-level security). -#}
select * from {{ ref('live_savings_today') }}
