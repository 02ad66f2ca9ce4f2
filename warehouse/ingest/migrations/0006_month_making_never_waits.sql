-- raw.ensure_task_execution_months() of 0005 took its advisory lock on every call and kept
-- it until the caller's commit: since the loader calls it before each file of task
-- executions, two loads of task executions ran one after the other, and a load paused
-- mid-file held up every other. Now it looks first and locks only when a month is missing;
-- and when another transaction is making months, it leaves them for a later call (-1)
-- instead of waiting, as it already did when the default partition was in use.

create or replace function raw.ensure_task_execution_months(
    first_start timestamptz, last_start timestamptz
)
returns integer
language plpgsql
as $$
-- Creates the month partitions (UTC months) from first_start's to last_start's that do not
-- exist yet, moving their rows out of the default partition; returns how many it made, or
-- -1 when another transaction is making months or using the default partition (nothing
-- made; a later call makes them).
declare
    first_month timestamp := date_trunc('month', first_start at time zone 'UTC');
    last_month timestamp := date_trunc('month', last_start at time zone 'UTC');
    month_start timestamp;
    lower_bound timestamptz;
    upper_bound timestamptz;
    partition_name text;
    missing boolean := false;
    created integer := 0;
begin
    if first_start is null or last_start is null then
        return 0;
    end if;
    month_start := first_month;
    while month_start <= last_month and not missing loop
        missing := to_regclass(
            'raw.task_executions_' || to_char(month_start, 'YYYY_MM')
        ) is null;
        month_start := month_start + interval '1 month';
    end loop;
    if not missing then
        return 0;
    end if;
    -- one creator at a time; one that finds another at work leaves the months to it
    if not pg_try_advisory_xact_lock(731002) then
        return -1;
    end if;
    month_start := first_month;
    while month_start <= last_month loop
        partition_name := 'task_executions_' || to_char(month_start, 'YYYY_MM');
        if to_regclass('raw.' || partition_name) is null then
            begin
                lock table raw.task_executions_default in access exclusive mode nowait;
            exception when lock_not_available then
                return -1;
            end;
            lower_bound := month_start at time zone 'UTC';
            upper_bound := (month_start + interval '1 month') at time zone 'UTC';
            execute format(
                'create table raw.%I (like raw.task_executions including defaults '
                'including constraints)', partition_name
            );
            execute format(
                'with moved as (delete from raw.task_executions_default '
                'where start_time >= %L and start_time < %L returning *) '
                'insert into raw.%I select * from moved',
                lower_bound, upper_bound, partition_name
            );
            execute format(
                'alter table raw.task_executions attach partition raw.%I '
                'for values from (%L) to (%L)',
                partition_name, lower_bound, upper_bound
            );
            created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
    end loop;
    return created;
end;
$$;
