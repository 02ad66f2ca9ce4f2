-- Each line of a landing file is loaded once per batch: (batch, line) identifies a raw row of
-- an event table. The unique index enforces it (a data test over every raw row would cost a
-- full scan on every build) and serves the incremental builds' "rows of the batches since
-- the previous build" like the plain batch index it replaces.
create unique index task_executions_batch_line_idx
    on raw.task_executions (_batch_id, _source_line);
drop index raw.task_executions_batch_idx;
create unique index routing_decisions_batch_line_idx
    on raw.routing_decisions (_batch_id, _source_line);
drop index raw.routing_decisions_batch_idx;
-- Versions loaded on a given day (late-arrival counts of data_quality_daily): rows arrive in
-- load order, so a BRIN index on the load time is tiny and narrows a day to its blocks.
create index task_executions_loaded_at_brin on raw.task_executions using brin (_loaded_at);
