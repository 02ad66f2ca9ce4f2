"""How far the marts lag raw: the newest load batch in raw against the batch horizon of the
last build (raw.batch_horizons, macros/batch_horizon.sql). A build that rebuilds the
incremental staging tables takes a horizon when it starts: every batch up to it is read by
that build, every later batch waits for the next one. Rows the platform inserts straight into
raw carry a batch of raw.load_batches too, so they count the same as loaded files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

LAG = """
select
    (select max(batch_id) from raw.load_batches where status = 'loaded') as newest_batch_id,
    horizon.batch_id as horizon_batch_id,
    horizon.taken_at as build_started_at
from (select 1) as one
left join lateral (
    select batch_id, taken_at from raw.batch_horizons order by horizon_id desc limit 1
) as horizon on true
"""


@dataclass(frozen=True)
class MartsLag:
    newest_batch_id: int | None
    horizon_batch_id: int | None
    build_started_at: datetime | None

    @property
    def has_new_batches(self) -> bool:
        """Raw holds a loaded batch the last build did not read (any batch, before any build)."""
        if self.newest_batch_id is None:
            return False
        return self.horizon_batch_id is None or self.newest_batch_id > self.horizon_batch_id


def marts_lag(connection: psycopg.Connection) -> MartsLag:
    return MartsLag(*connection.execute(LAG).fetchone())
