"""The cached live summaries (docs/live.md): materialized views of the live metrics, refreshed
concurrently, so that a reader never waits for a refresh (a concurrent refresh takes no lock
that conflicts with reads). Dagster runs ``refresh_live_summaries`` every minute."""

from __future__ import annotations

import psycopg
from psycopg import sql

CACHES = ("int_live_savings_today_cache", "int_live_last_five_minutes_cache")


def refresh_live_summaries(connection: psycopg.Connection) -> list[str]:
    """Refresh each cached summary that exists (a warehouse not built yet has none); return the
    ones refreshed."""
    refreshed = []
    for name in CACHES:
        exists = connection.execute(
            "select exists (select from pg_catalog.pg_matviews "
            "where schemaname = 'staging' and matviewname = %s)",
            (name,),
        ).fetchone()
        if exists and exists[0]:
            connection.execute(
                sql.SQL("refresh materialized view concurrently {}").format(
                    sql.Identifier("staging", name)
                )
            )
            refreshed.append(name)
    return refreshed
