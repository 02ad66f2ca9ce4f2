"""The reporting API's keys and its request log, in schema ``api`` (docs/api.md).

A key is ``gcw_<prefix>_<secret>``: the prefix (8 hex characters) finds it, the secret (43
URL-safe characters, 256 random bits) proves it. Only the SHA-256 of the whole key is stored:
the key is shown once, when it is made, and never logged. (A slow password hash is not needed:
the secret is random, not chosen by a person.) The tables belong to this code, created on first
use, and no reader role can read them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

import psycopg

from warehouse.readers import READER_ROLES, Viewer

CREATE_TABLES = """
create schema if not exists api;
revoke all on schema api from public;
create table if not exists api.keys (
    key_id bigint generated always as identity primary key,
    user_id uuid not null,
    prefix text not null unique,
    key_hash text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
create table if not exists api.requests (
    request_id bigint generated always as identity primary key,
    requested_at timestamptz not null default now(),
    key_id bigint,
    user_id uuid,
    method text not null,
    endpoint text not null,
    status integer not null,
    duration_ms numeric(10, 2) not null
);
create index if not exists requests_requested_at_idx on api.requests (requested_at);
"""

KEY_PREFIX = "gcw"


class ApiKeyError(ValueError):
    """A key command that cannot be done; the message says why."""


@dataclass(frozen=True)
class NewKey:
    key_id: int
    token: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Caller:
    key_id: int
    viewer: Viewer
    organization_id: UUID
    team_id: UUID | None


def ensure_tables(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute(CREATE_TABLES)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(
    connection: psycopg.Connection, user_id: UUID, expires: date | None = None
) -> NewKey:
    """A new key for a current user with a reader role."""
    ensure_tables(connection)
    user = connection.execute(
        "select role, is_deleted from analytics.users where id = %s", (user_id,)
    ).fetchone()
    if user is None:
        raise ApiKeyError(f"no user {user_id} in analytics.users (is the warehouse built?)")
    role, is_deleted = user
    if is_deleted:
        raise ApiKeyError(f"user {user_id} is deleted")
    if role not in READER_ROLES:
        raise ApiKeyError(
            f"user {user_id} has role {role!r}; keys are for {', '.join(READER_ROLES)}"
        )
    expires_at = datetime(expires.year, expires.month, expires.day, tzinfo=UTC) if expires else None
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ApiKeyError(f"--expires {expires} is not in the future")
    prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    (key_id,) = connection.execute(
        "insert into api.keys (user_id, prefix, key_hash, expires_at) values (%s, %s, %s, %s) "
        "returning key_id",
        (user_id, prefix, _digest(token), expires_at),
    ).fetchone()
    return NewKey(key_id, token, expires_at)


def list_keys(connection: psycopg.Connection) -> list[tuple]:
    """Every key: id, user, prefix, created, expires, revoked (never a secret)."""
    ensure_tables(connection)
    return connection.execute(
        "select key_id, user_id, prefix, created_at, expires_at, revoked_at from api.keys "
        "order by key_id"
    ).fetchall()


def revoke_key(connection: psycopg.Connection, key_id: int) -> None:
    ensure_tables(connection)
    row = connection.execute(
        "update api.keys set revoked_at = coalesce(revoked_at, now()) where key_id = %s "
        "returning key_id",
        (key_id,),
    ).fetchone()
    if row is None:
        raise ApiKeyError(f"no key {key_id} (warehouse api-key list shows them)")


AUTHENTICATE = """
select keys.key_id, keys.key_hash, users.id, coalesce(users.name, users.id::text),
    users.role, organizations.name, users.organization_id, users.team_id
from api.keys
inner join analytics.users on keys.user_id = users.id
inner join analytics.organizations on users.organization_id = organizations.id
where keys.prefix = %s and keys.revoked_at is null
    and (keys.expires_at is null or keys.expires_at > now())
    and not users.is_deleted
"""


async def authenticate(connection: psycopg.AsyncConnection, token: str) -> Caller | None:
    """The caller a bearer token names: a valid (unrevoked, unexpired) key of a current user
    with a reader role; None otherwise."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = await (await connection.execute(AUTHENTICATE, (parts[1],))).fetchone()
    if row is None or not secrets.compare_digest(row[1], _digest(token)):
        return None
    key_id, _, user_id, name, role, organization_name, organization_id, team_id = row
    if role not in READER_ROLES:
        return None
    return Caller(key_id, Viewer(user_id, name, role, organization_name), organization_id, team_id)
