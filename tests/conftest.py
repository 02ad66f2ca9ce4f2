"""Shared fixtures: a real PostgreSQL (embedded, or the one PGHOST names) and a fresh database
per test, so every test starts from an empty warehouse and cannot see another's data."""

from __future__ import annotations

import os
import shutil
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


def create_database(
    server: settings.ConnectionSettings, template: str | None = None, name: str | None = None
) -> str:
    """A new database (``name``, else a fresh one), empty or a copy of ``template`` (whose
    sessions are ended first: a template must have none)."""
    name = name or f"wh_test_{uuid.uuid4().hex[:12]}"
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


def dbt_directory(tmp_path: Path) -> Path:
    """Where dbt's target and logs go for a test whose files are in ``tmp_path``."""
    return tmp_path.with_name(f"{tmp_path.name}-dbt")


def point_at(
    monkeypatch: pytest.MonkeyPatch,
    server: settings.ConnectionSettings,
    name: str,
    tmp_path: Path,
) -> None:
    """The libpq variables name database ``name``; the retention archive goes under
    ``tmp_path``, dbt's target and logs beside it (``dbt_directory``), so that the files in
    ``tmp_path`` are the test's own."""
    if not settings.uses_embedded_server():
        monkeypatch.setenv("PGHOST", server.host)
        monkeypatch.setenv("PGPORT", str(server.port))
        monkeypatch.setenv("PGUSER", server.user)
    monkeypatch.setenv("PGDATABASE", name)
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_directory(tmp_path) / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(dbt_directory(tmp_path) / "logs"))
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


# The per-test database has the same name for every test of a pytest process (made anew for
# each test), so one parse of the dbt project serves them all: dbt's partial parsing keeps a
# parse only for the same profile, database name included. Unique per process, so that
# concurrent sessions on one server (PGHOST) never meet.
PROCESS_DATABASE = f"wh_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def dbt_parse(
    server: settings.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """dbt's partial-parse file of the project against PROCESS_DATABASE, parsed once per
    process; ``database`` gives each test a copy in its own target path (dbt checks it and
    parses again when anything it depends on differs)."""
    tmp_path = tmp_path_factory.mktemp("dbt-parse")
    with pytest.MonkeyPatch.context() as monkeypatch:
        point_at(monkeypatch, server, PROCESS_DATABASE, tmp_path)
        run_dbt(["parse", "--quiet"], as_of=FIXED_AS_OF)
    return dbt_directory(tmp_path) / "target" / "partial_parse.msgpack"


@pytest.fixture
def database(
    server: settings.ConnectionSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dbt_parse: Path,
) -> Iterator[settings.ConnectionSettings]:
    """A new, empty database for this test; the libpq variables point at it."""
    drop_database(server, PROCESS_DATABASE)  # left by an interrupted test, if any
    create_database(server, name=PROCESS_DATABASE)
    point_at(monkeypatch, server, PROCESS_DATABASE, tmp_path)
    target = dbt_directory(tmp_path) / "target"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dbt_parse, target / dbt_parse.name)
    try:
        yield settings.connection()
    finally:
        drop_database(server, PROCESS_DATABASE)


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
        return run_dbt(args, check=check, as_of=as_of)

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


@pytest.fixture(scope="session")
def budgets_template(
    server: settings.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The name of a database holding tests/budgets.py's warehouse, loaded and built once per
    pytest process: the budgets, report and dashboard tests copy it."""
    from tests.budgets import build_budgets

    with build_budgets(server, tmp_path_factory.mktemp("budgets-template")) as name:
        yield name


# The longest modules (a minute or more each: many dbt builds or Dagster runs), longest first.
# `make pytest` deals whole modules to its workers (pytest-xdist's loadscope: a module's
# fixtures, such as its built warehouse, are made once, not once per worker that runs some of
# its tests), in this order, then the others in collection order: the long ones start first,
# so that none is left to the end while the other worker idles.
LONGEST_MODULES = (
    "tests/test_dagster.py",
    "tests/test_bench.py",
    "tests/test_data_tests.py",
    "tests/test_end_to_end.py",
    "tests/test_live.py",
    "tests/test_retention.py",
    "tests/test_incremental.py",
    "tests/test_faults.py",
    "tests/test_privacy_requests.py",
    "tests/test_health.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: position for position, module in enumerate(LONGEST_MODULES)}
    order = {item: position for position, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(item.nodeid.split("::")[0], len(rank)), order[item]))
