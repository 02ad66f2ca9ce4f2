"""Subjects whose data was deleted stay deleted (docs/privacy.md, "Export and deletion"):
their rows are dropped from every later file the loader reads and from every month retention
restores, before the transaction that writes them commits, so nobody ever sees them."""

from __future__ import annotations

import psycopg
from psycopg import sql

ERASED = "select subject_id from privacy.erased_subjects"
# The rows of a landing table that belong to an erased subject. A routing decision names only
# its task, and an erased subject's tasks are gone: a decision arriving later links to nobody
# and never reaches the marts (they keep decisions of their tasks only).
ERASED_ROWS = {
    "organizations": f"id in ({ERASED})",
    "teams": f"organization_id in ({ERASED})",
    "users": f"id in ({ERASED}) or organization_id in ({ERASED})",
    "task_executions": f"user_id in ({ERASED}) or organization_id in ({ERASED})",
}


def drop_erased_rows(
    connection: psycopg.Connection, table: str, relation: sql.Composable, batch_id: int | None
) -> int:
    """Delete the erased subjects' rows of landing table ``table`` from ``relation`` (the raw
    table, narrowed to one batch; or a restore's staging table, whole); returns how many."""
    if table not in ERASED_ROWS:
        return 0
    row = connection.execute("select exists (select from privacy.erased_subjects)").fetchone()
    if not row or not row[0]:
        return 0
    batch = sql.SQL("_batch_id = %(batch)s and ") if batch_id is not None else sql.SQL("")
    query = sql.SQL(
        "with gone as (delete from {} where {}({}) returning 1) select count(*) from gone"
    ).format(relation, batch, sql.SQL(ERASED_ROWS[table]))
    row = connection.execute(query, {"batch": batch_id}).fetchone()
    return row[0] if row else 0
