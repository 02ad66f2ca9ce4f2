"""Reading the marts as a person: their reader role and identity (docs/privacy.md). The
dashboard and the API run every query in a transaction under the person's reader role (``set
local role``) with ``app.user_id`` set to them, so that the marts' row-level security decides
each row, as for any BI tool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

import psycopg

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
        connection.execute(  # the role and the identity in one round trip, for this transaction
            "select set_config('role', %s, true), set_config('app.user_id', %s, true)",
            (READER_ROLES[viewer.role], str(viewer.user_id)),
        )
        yield connection
