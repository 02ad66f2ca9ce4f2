"""Reading the marts as a person: their reader role and identity (docs/privacy.md). The
dashboard and the API run every query in a transaction under the person's reader role (``set
local role``) with ``app.user_id`` set to them, so that the marts' row-level security decides
each row, as for any BI tool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from warehouse import postgres

READER_ROLES = {
    "org_admin": "analytics_org_admin",
    "team_lead": "analytics_team_lead",
    "developer": "analytics_developer",
}


@dataclass(frozen=True)
class Viewer:
    user_id: UUID
    name: str
    role: str
    organization_name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role.replace('_', ' ')}, {self.organization_name})"


@contextmanager
def as_viewer(
    viewer: Viewer, connection: psycopg.Connection | None = None
) -> Iterator[psycopg.Connection]:
    """A transaction with the viewer's reader role and identity, on ``connection`` (not in
    autocommit; the role and identity end with the transaction) or on a new one."""
    if connection is None:
        with postgres.connect() as own, as_viewer(viewer, own) as inside:
            yield inside
        return
    with connection.transaction():
        connection.execute(SET_VIEWER, _viewer_settings(viewer))  # one round trip for both
        yield connection


IDLE = TransactionStatus.IDLE
SET_VIEWER = "select set_config('role', %s, true), set_config('app.user_id', %s, true)"


def _viewer_settings(viewer: Viewer) -> tuple[str, str]:
    return READER_ROLES[viewer.role], str(viewer.user_id)


async def read_as_viewer(
    connection: psycopg.AsyncConnection, viewer: Viewer, *statements: tuple[Any, Any]
) -> list[list[dict[str, Any]]]:
    """The rows of each ``(query, parameters)`` as ``viewer`` sees them, in one round trip:
    begin, the role and identity, the queries and commit are sent together (pipeline mode) on
    ``connection``, which is in autocommit. The explicit transaction holds the role and
    identity for the queries and only for them, whatever the protocol's syncs; on an error it
    is rolled back."""
    if not connection.autocommit:
        raise ValueError("read_as_viewer needs a connection in autocommit (it sends begin)")
    try:
        async with connection.pipeline() as pipeline:
            await connection.execute("begin")
            await connection.execute(SET_VIEWER, _viewer_settings(viewer))
            cursors = []
            for query, parameters in statements:
                cursor = connection.cursor(row_factory=dict_row)
                await cursor.execute(query, parameters)
                cursors.append(cursor)
            await connection.execute("commit")
            await pipeline.sync()
        return [await cursor.fetchall() for cursor in cursors]
    except psycopg.Error:
        if not connection.closed and connection.info.transaction_status != IDLE:
            await connection.execute("rollback")
        raise
