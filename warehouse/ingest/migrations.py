"""Versioned, idempotent migrations of the landing schema ``raw``.

Each ``migrations/NNNN_<name>.sql`` runs once, in its own transaction, and is recorded in
``raw.schema_migrations`` with its checksum. An applied migration whose file changed afterwards
is an error: migrations are history, so a change is a new file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from warehouse.privacy.pseudonyms import apply_configured_key

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 731_001  # advisory lock: one migrator at a time

BOOTSTRAP = """
create schema if not exists raw;
create table if not exists raw.schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available_migrations(directory: Path | None = None) -> list[Migration]:
    migrations = []
    for path in sorted((directory or MIGRATIONS_DIR).glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_<name>.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path))
    return migrations


def apply_migrations(connection: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration; return the ones applied now."""
    applied_now = []
    with connection.transaction():
        connection.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute(BOOTSTRAP)
        done = dict(connection.execute("select version, checksum from raw.schema_migrations"))
        for migration in available_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            with connection.transaction(), _warnings_logged(connection, migration):
                connection.execute(migration.sql)
                connection.execute(
                    "insert into raw.schema_migrations (version, name, checksum) "
                    "values (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            logger.info("applied migration %s", migration.path.name)
            applied_now.append(migration)
        apply_configured_key(connection)
    return applied_now


@contextmanager
def _warnings_logged(connection: psycopg.Connection, migration: Migration) -> Iterator[None]:
    """A migration's own warnings (RAISE WARNING) reach the log, naming the migration."""

    def log(diagnostic: psycopg.errors.Diagnostic) -> None:
        if diagnostic.severity_nonlocalized == "WARNING":
            logger.warning("%s: %s", migration.path.name, diagnostic.message_primary)

    connection.add_notice_handler(log)
    try:
        yield
    finally:
        connection.remove_notice_handler(log)
