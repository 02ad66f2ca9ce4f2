with source as (
    select * from {{ source('platform', 'redaction_counts') }}
),

final as (
    select
        batch_id,
        table_name,
        column_name,
        kind,
        redactions,
        _loaded_at as loaded_at,
        {{ utc_date('_loaded_at') }} as load_date
    from source
)

select * from final
