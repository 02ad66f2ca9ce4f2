{#- The pricing row that applies to a task: same provider, window [effective_from,
    effective_until) holding the task's start, the most specific first (task_type and tier
    both match, then task_type only, then tier only, then neither), then the latest
    effective_from. Used as `left join lateral ({{ applicable_price(...) }}) as price on true`. -#}
{% macro applicable_price(pricing, provider, task_type, pricing_tier, started_at) -%}
    select applicable.*
    from {{ pricing }} as applicable
    where
        applicable.provider = {{ provider }}
        and applicable.effective_from <= {{ started_at }}
        and (applicable.effective_until is null or {{ started_at }} < applicable.effective_until)
        and (applicable.task_type is null or applicable.task_type = {{ task_type }})
        and (applicable.pricing_tier is null or applicable.pricing_tier = {{ pricing_tier }})
    order by
        case
            when applicable.task_type is not null and applicable.pricing_tier is not null then 1
            when applicable.task_type is not null then 2
            when applicable.pricing_tier is not null then 3
            else 4
        end,
        applicable.effective_from desc,
        applicable.provider_pricing_id
    limit 1
{%- endmacro %}

{#- Priced cost of a task under one pricing row (null when no row applies):
    tokens x cost_per_token + cost_per_request + duration in minutes x cost_per_minute,
    a null price component counting as 0, rounded to the marts' 6 decimals. -#}
{% macro priced_cost(price, tokens_used, duration_ms) -%}
    case
        when {{ price }}.provider_pricing_id is not null
            then round(
                coalesce({{ tokens_used }}, 0) * coalesce({{ price }}.cost_per_token, 0)
                + coalesce({{ price }}.cost_per_request, 0)
                + coalesce({{ duration_ms }}, 0) / 60000.0
                * coalesce({{ price }}.cost_per_minute, 0),
                6
            )
    end
{%- endmacro %}
