with source as (
    select * from {{ source('platform', 'rejected_rows') }}
),

final as (
    select
        rejected_row_id,
        batch_id,
        table_name,
        source_file,
        source_line,
        field,
        reason,
        split_part(reason, ':', 1) as reason_kind,
        original_text,
        rejected_at,
        {{ utc_date('rejected_at') }} as rejected_date
    from source
)

select * from final
