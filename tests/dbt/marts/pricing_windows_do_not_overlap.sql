-- Two pricing rows of the same provider, task type and tier (null = any, compared as equal)
-- whose windows [effective_from, effective_until) overlap: the price of a task would be
-- ambiguous. Every returned pair is an error.
with pricing as (
    select * from {{ ref('provider_pricing') }}
),

overlapping_windows as (
    select
        earlier.id as first_pricing_id,
        later.id as second_pricing_id,
        earlier.provider,
        earlier.task_type,
        earlier.pricing_tier,
        later.effective_from as overlap_from
    from pricing as earlier
    inner join pricing as later
        on
            earlier.provider = later.provider
            and earlier.task_type is not distinct from later.task_type
            and earlier.pricing_tier is not distinct from later.pricing_tier
            and earlier.id < later.id
            and earlier.effective_from < coalesce(later.effective_until, 'infinity')
            and later.effective_from < coalesce(earlier.effective_until, 'infinity')
)

select * from overlapping_windows
