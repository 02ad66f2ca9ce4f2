{#- What the sanitizer removed from free text, per UTC day of load, raw table, column and kind
    of finding (the loader counts each finding it replaces: raw.redaction_counts). A day, table,
    column or kind without a redaction has no row. -#}
with redaction_counts as (
    select * from {{ ref('stg_platform__redaction_counts') }}
),

final as (
    select
        load_date,
        table_name,
        column_name,
        kind,
        sum(redactions) as redactions,
        count(distinct batch_id) as load_batches
    from redaction_counts
    group by load_date, table_name, column_name, kind
)

select * from final
