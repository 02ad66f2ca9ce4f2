"""The embedded PostgreSQL server: start once, leave running, stop on request.

Only used when ``PGHOST`` is unset (see :mod:`warehouse.settings`). The server listens on a
Unix socket inside its data directory, never on a TCP port, so two checkouts never collide.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from warehouse import settings

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

# Server settings every session of the warehouse relies on.
SERVER_SETTINGS = {"timezone": "UTC", "log_timezone": "UTC"}


@dataclass(frozen=True)
class ServerStatus:
    embedded: bool
    location: str
    answers: bool
    detail: str
    hint: str = ""


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        import pgserver
        import pgserver._commands
    return pgserver


def up() -> settings.ConnectionSettings:
    """Make sure the warehouse database answers; start the embedded server if it is ours."""
    if not settings.uses_embedded_server():
        conn = settings.external_connection()
        ensure_database(conn)
        return conn
    home = settings.warehouse_home()
    home.mkdir(parents=True, exist_ok=True)
    pgserver = _pgserver()
    with _without_libpq_environment():  # the server must not inherit a shell's PGPORT & co
        server = pgserver.get_server(settings.embedded_pgdata(), cleanup_mode=None)
    info = server.get_postmaster_info()
    conn = settings.ConnectionSettings(
        host=str(info.socket_dir),
        port=int(info.port),
        user=settings.EMBEDDED_USER,
        database=settings.embedded_connection().database,
    )
    _apply_server_settings(conn)
    ensure_database(conn)
    return conn


@contextmanager
def _without_libpq_environment() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("PG")}
    try:
        yield
    finally:
        os.environ.update(saved)


def _apply_server_settings(conn: settings.ConnectionSettings) -> None:
    with _open(conn, "postgres", autocommit=True) as connection:
        changed = False
        for name, value in SERVER_SETTINGS.items():
            current = connection.execute(sql.SQL("show {}").format(sql.Identifier(name)))
            if current.fetchone()[0] != value:
                connection.execute(
                    sql.SQL("alter system set {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                changed = True
        if changed:
            connection.execute("select pg_reload_conf()")


def ensure_database(conn: settings.ConnectionSettings) -> None:
    """Create the warehouse database when the server answers but the database is missing."""
    try:
        with _open(conn, autocommit=True):
            return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    with _open(conn, "postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(conn.database)))
    logger.info("created database %s", conn.database)


def down() -> str:
    if not settings.uses_embedded_server():
        return "PGHOST is set: the external server is not managed here; nothing stopped."
    pgdata = settings.embedded_pgdata()
    if not (pgdata / "postmaster.pid").exists():
        return f"embedded PostgreSQL at {pgdata} is not running"
    pgserver = _pgserver()
    user = "pgserver" if os.geteuid() == 0 else None
    pgserver._commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return f"embedded PostgreSQL at {pgdata} stopped"


def status() -> ServerStatus:
    embedded = settings.uses_embedded_server()
    conn = settings.connection()
    if embedded and not (settings.embedded_pgdata() / "postmaster.pid").exists():
        return ServerStatus(True, conn.describe(), False, "not running (run `warehouse db up`)")
    try:
        with _open(conn, connect_timeout=5) as connection:
            version = connection.execute("show server_version").fetchone()[0]
        return ServerStatus(embedded, conn.describe(), True, f"PostgreSQL {version}")
    except psycopg.OperationalError as error:
        hint = tls_hint(conn, error) or ""
        return ServerStatus(embedded, conn.describe(), False, _first_line(error), hint)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _open(
    conn: settings.ConnectionSettings, database: str | None = None, **options: object
) -> psycopg.Connection:
    """Connect to ``database`` on the server ``conn`` names, with its TLS settings; a failed
    TLS handshake raises an error that says which settings to check."""
    try:
        return psycopg.connect(**conn.keywords(database), **options)
    except psycopg.OperationalError as error:
        hint = tls_hint(conn, error)
        if hint is None:
            raise
        raise psycopg.OperationalError(f"{error}\n{hint}") from error


def tls_hint(conn: settings.ConnectionSettings, error: Exception) -> str | None:
    """What to check when ``error`` is a failed TLS handshake or a server that wants TLS (None
    for any other error). Names the settings in use: a mode and a file path, nothing secret."""
    text = str(error)
    if "no pg_hba.conf entry" in text and "no encryption" in text:
        return (
            f"hint: the server takes no unencrypted connection from here (PGSSLMODE="
            f"{conn.sslmode or 'prefer'}); if it accepts TLS only (hostssl), set "
            "PGSSLMODE=verify-full and PGSSLROOTCERT to the CA certificate that signed the "
            "server's certificate, else ask its administrator for a pg_hba.conf line"
        )
    if "SSL" not in text and "certificate" not in text:
        return None
    mode = conn.sslmode or "prefer (libpq's default)"
    root = conn.sslrootcert or "~/.postgresql/root.crt (libpq's default)"
    return (
        f"hint: TLS failed with PGSSLMODE={mode}, PGSSLROOTCERT={root}: PGSSLROOTCERT must be the "
        f"CA certificate that signed the server's certificate, and PGHOST ({conn.host}) a name "
        "that certificate is for; with client certificates, check PGSSLCERT and PGSSLKEY"
    )


def open_connection(*, autocommit: bool = False) -> psycopg.Connection:
    """A connection to the warehouse database that the caller keeps and closes (a web
    session's, say); ``connect`` is the same as a context manager."""
    return _open(settings.connection(), autocommit=autocommit)


@contextmanager
def connect(*, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection to the warehouse database, with the TLS settings of PGSSLMODE & co (libpq
    reads PGPASSWORD itself)."""
    with _open(settings.connection(), autocommit=autocommit) as connection:
        yield connection
