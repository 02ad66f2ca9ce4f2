-- The two raw event tables take millions of rows a day: their foreign key to raw.load_batches
-- was checked row by row (a trigger per row), which cost the loader more than its own typing
-- and sanitizing (0.26 of psql \copy's throughput with it, 0.37 without; docs/benchmarks.md).
-- The loader writes a file's batch row and its rows in one transaction, so the reference
-- holds by construction; the small raw tables keep theirs.
alter table raw.task_executions drop constraint task_executions__batch_id_fkey;
alter table raw.routing_decisions drop constraint routing_decisions__batch_id_fkey;
