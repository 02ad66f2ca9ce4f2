{{ config(
    materialized='materialized_view',
    indexes=[{'columns': ['organization_id', 'provider'], 'unique': true}],
) }}

{#- live_last_five_minutes, cached like int_live_savings_today_cache. -#}
select * from {{ ref('live_last_five_minutes') }}
