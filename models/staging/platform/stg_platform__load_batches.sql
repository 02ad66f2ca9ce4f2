with source as (
    select * from {{ source('platform', 'load_batches') }}
),

final as (
    select
        batch_id,
        table_name,
        source_file,
        file_format,
        file_checksum,
        file_bytes,
        status,
        is_forced,
        rows_read,
        rows_loaded,
        rows_rejected,
        rows_erased,
        error_message,
        started_at,
        finished_at,
        duration_ms,
        {{ utc_date('started_at') }} as load_date
    from source
)

select * from final
