-- The live store's ledger (docs/live.md, "The live store"): the task batches whose tasks
-- analytics.live_task_executions reads, ranked, checked and priced, from the live store
-- (staging.int_live_task_store) instead of computing them at each query. Written under the
-- advisory lock 731004 by the store's build (every batch after the build's watermark) and by
-- raw.live_store_absorb(batch), which the loader calls in each task file's transaction; a
-- batch not listed (written by another client, or whose references a build is replacing) is
-- computed at each query, so the live view is exact either way.
create table raw.live_store_batches (
    batch_id bigint primary key
);
