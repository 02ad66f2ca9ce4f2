"""Shared fixtures: a real PostgreSQL (embedded, or the one PGHOST names) and a fresh database
per test, so every test starts from an empty warehouse and cannot see another's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from warehouse import postgres, settings
from warehouse.dbt import run_dbt
from warehouse.ingest.migrations import apply_migrations

FIXED_AS_OF = "2026-03-02T12:00:00+00:00"


@pytest.fixture(scope="session")
def server() -> settings.ConnectionSettings:
    """The server every test uses; started once (embedded) or taken from PGHOST."""
    return postgres.up()


def _admin_connection(server: settings.ConnectionSettings) -> psycopg.Connection:
    return psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    )


def create_database(server: settings.ConnectionSettings, template: str | None = None) -> str:
    """A new database, empty or a copy of ``template`` (whose sessions are ended first: a
    template must have none)."""
    name = f"wh_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server) as admin:
        if template is None:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            return name
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (template,),
        )
        admin.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return name


def drop_database(server: settings.ConnectionSettings, name: str) -> None:
    with _admin_connection(server) as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def point_at(
    monkeypatch: pytest.MonkeyPatch,
    server: settings.ConnectionSettings,
    name: str,
    tmp_path: Path,
) -> None:
    """The libpq variables name database ``name``; dbt's target and logs, and the retention
    archive, go under ``tmp_path``."""
    if not settings.uses_embedded_server():
        monkeypatch.setenv("PGHOST", server.host)
        monkeypatch.setenv("PGPORT", str(server.port))
        monkeypatch.setenv("PGUSER", server.user)
    monkeypatch.setenv("PGDATABASE", name)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt-target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt-logs"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", str(tmp_path / "archive"))


@contextmanager
def database_environment(
    server: settings.ConnectionSettings,
    name: str,
    tmp_path: Path,
    environment: dict[str, str] | None = None,
) -> Iterator[psycopg.Connection]:
    """The libpq variables naming database ``name`` (and ``environment``) set meanwhile; an
    autocommit connection to it with the raw schema migrated."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        point_at(monkeypatch, server, name, tmp_path)
        for variable, value in (environment or {}).items():
            monkeypatch.setenv(variable, value)
        with postgres.connect(autocommit=True) as connection:
            apply_migrations(connection)
            yield connection


@contextmanager
def database_for_module(
    server: settings.ConnectionSettings,
    tmp_path: Path,
    environment: dict[str, str] | None = None,
    template: str | None = None,
) -> Iterator[psycopg.Connection]:
    """A new database (empty, or a copy of ``template``) for tests that share one build, with
    database_environment() meanwhile. Dropped afterwards."""
    name = create_database(server, template)
    try:
        with database_environment(server, name, tmp_path, environment) as connection:
            yield connection
    finally:
        drop_database(server, name)


@pytest.fixture
def database(
    server: settings.ConnectionSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[settings.ConnectionSettings]:
    """A new, empty database for this test; the libpq variables point at it."""
    name = create_database(server)
    point_at(monkeypatch, server, name, tmp_path)
    try:
        yield settings.connection()
    finally:
        drop_database(server, name)


@pytest.fixture
def other_database(
    server: settings.ConnectionSettings, database: settings.ConnectionSettings
) -> Iterator[str]:
    """The name of a second, empty database on the same server (for rebuild comparisons)."""
    name = create_database(server)
    try:
        yield name
    finally:
        drop_database(server, name)


@pytest.fixture
def connection(database: settings.ConnectionSettings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test database, with the raw schema migrated."""
    with postgres.connect(autocommit=True) as conn:
        apply_migrations(conn)
        yield conn


@pytest.fixture
def dbt(database: settings.ConnectionSettings):
    """Run a dbt command against the test database; fails the test when dbt fails."""

    def invoke(*args: str, as_of: str = FIXED_AS_OF, check: bool = True):
        return run_dbt([*args, "--vars", f"{{as_of: '{as_of}'}}"], check=check)

    return invoke


@pytest.fixture(scope="session")
def people_template(
    server: settings.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The name of a database holding tests/people.py's warehouse, loaded and built once per
    pytest process: the privacy tests copy it (``create database ... template``)."""
    from tests.people import build_people

    tmp_path = tmp_path_factory.mktemp("people")
    with build_people(server, tmp_path) as name:
        yield name


# The longest tests (a minute or more each: many dbt builds) start first, so that the pytest
# processes finish together instead of one waiting on another's last long test.
LONGEST_FIRST = (
    "tests/test_incremental.py::test_incremental_builds_equal_a_full_rebuild",
    "tests/test_bench.py::test_quick_bench_generates_exact_counts_and_writes_every_section",
    "tests/test_dagster.py::test_landing_sensor_loads_new_files_and_builds_every_asset_with_green_checks",
    "tests/test_retention.py::test_rollups_do_not_change_after_a_retention_run_nor_after_a_full_refresh",
    "tests/test_faults.py::test_a_build_killed_mid_run_and_run_again_equals_an_uninterrupted_build",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {node_id: position for position, node_id in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))
