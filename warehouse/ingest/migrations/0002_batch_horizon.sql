-- The batch horizon (docs/concurrency.md): a build reads only the batches up to the horizon it
-- took when it started, and every batch up to the horizon has committed (or died) by then.
-- Batch ids come from the load_batches sequence when a batch row is inserted, at the start of
-- a load's transaction; a load can commit long after a later batch did. The advisory lock
-- below orders the two: each transaction that allocates a batch id holds it shared until it
-- ends; taking a horizon holds it exclusively for a moment, so it waits for the loads in
-- flight and holds back new ones until it has read the sequence.

-- One row per horizon taken (each `dbt build` or `dbt run` that rebuilds the incremental
-- staging tables takes one, on-run-start); the newest is the current build's.
create table raw.batch_horizons (
    horizon_id bigint generated always as identity primary key,
    batch_id bigint not null,
    taken_at timestamptz not null default clock_timestamp()
);

-- Statement-level, so the lock is held before the insert draws its batch id from the sequence
-- (the identity default is evaluated per row, after the statement's before triggers).
create function raw.hold_batch_allocation() returns trigger
language plpgsql as $$
begin
    perform pg_advisory_xact_lock_shared(731003);
    return null;
end
$$;

create trigger load_batches_hold_allocation
before insert on raw.load_batches
for each statement execute function raw.hold_batch_allocation();

-- Waits for every transaction holding a batch id to end, records the newest batch id ever
-- allocated as the new horizon and returns it. The exclusive lock is a session lock released
-- before returning (also on error), so new loads wait only while the sequence is read.
create function raw.take_batch_horizon() returns bigint
language plpgsql as $$
declare
    horizon bigint;
begin
    perform pg_advisory_lock(731003);
    begin
        horizon := coalesce(
            pg_sequence_last_value(pg_get_serial_sequence('raw.load_batches', 'batch_id')::regclass),
            0
        );
        insert into raw.batch_horizons (batch_id) values (horizon);
    exception when others then
        perform pg_advisory_unlock(731003);
        raise;
    end;
    perform pg_advisory_unlock(731003);
    return horizon;
end
$$;
