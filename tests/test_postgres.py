"""The embedded server's life cycle and the PGHOST switch."""

from __future__ import annotations

import psycopg
import pytest

from warehouse import postgres, settings
from warehouse.cli import main
from warehouse.dbt import dbt_environment


@pytest.fixture
def private_home(tmp_path, monkeypatch):
    """A second embedded server, in its own WAREHOUSE_HOME, stopped at the end."""
    monkeypatch.delenv("PGHOST", raising=False)
    monkeypatch.delenv("PGDATABASE", raising=False)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    postgres.down()


def test_embedded_server_starts_once_answers_and_stops(private_home, capsys):
    assert main(["db", "status"]) == 1
    assert "not running" in capsys.readouterr().out

    assert main(["db", "up"]) == 0
    first = capsys.readouterr().out
    assert main(["db", "up"]) == 0  # idempotent: the running server is reused
    second = capsys.readouterr().out
    assert "embedded PostgreSQL ready" in first
    assert "applied 13 migration(s)" in first
    assert "applied" not in second

    assert (private_home / "pgdata" / "PG_VERSION").exists()
    with postgres.connect() as connection:
        assert connection.execute("show timezone").fetchone()[0] == "UTC"
        assert connection.execute("select current_database()").fetchone()[0] == "warehouse"

    assert main(["db", "status"]) == 0
    assert "answers (PostgreSQL 16" in capsys.readouterr().out
    assert main(["db", "down"]) == 0
    assert main(["db", "status"]) == 1


def test_env_prints_exports_for_the_embedded_server(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("PGHOST", raising=False)
    monkeypatch.delenv("PGDATABASE", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGPASSWORD", "s3cret-value")

    assert main(["env"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"export PGHOST={tmp_path / 'home' / 'pgdata'}",
        "export PGPORT=5432",
        "export PGUSER=postgres",
        "export PGDATABASE=warehouse",
        f"export DBT_PROFILES_DIR={settings.project_dir() / 'profiles'}",
        f"export DAGSTER_HOME={tmp_path / 'home' / 'dagster'}",
    ]


def test_pghost_set_means_that_server_unchanged(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGHOST", "db.example.internal")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGUSER", "builder")
    monkeypatch.setenv("PGDATABASE", "analytics_prod")
    monkeypatch.setenv("PGPASSWORD", "s3cret-value")

    assert not settings.uses_embedded_server()
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "export PGHOST=db.example.internal" in out
    assert "export PGPORT=6543" in out
    assert "s3cret-value" not in out
    assert main(["db", "down"]) == 0
    assert "nothing stopped" in capsys.readouterr().out
    assert not (tmp_path / "home").exists()  # the embedded server was never started


def test_tls_settings_reach_dbt_and_the_exports_and_the_password_never(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PGHOST", "db.example.internal")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGUSER", "builder")
    monkeypatch.setenv("PGDATABASE", "analytics_prod")
    monkeypatch.setenv("PGPASSWORD", "s3cret-value")
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", "/etc/warehouse/tls/ca.crt")
    monkeypatch.setenv("PGSSLCERT", "/etc/warehouse/tls/builder.crt")
    monkeypatch.setenv("PGSSLKEY", "/etc/warehouse/tls/builder.key")

    assert main(["env"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "export PGHOST=db.example.internal",
        "export PGPORT=6543",
        "export PGUSER=builder",
        "export PGDATABASE=analytics_prod",
        "export PGSSLMODE=verify-full",
        "export PGSSLROOTCERT=/etc/warehouse/tls/ca.crt",
        "export PGSSLCERT=/etc/warehouse/tls/builder.crt",
        "export PGSSLKEY=/etc/warehouse/tls/builder.key",
        f"export DBT_PROFILES_DIR={settings.project_dir() / 'profiles'}",
        f"export DAGSTER_HOME={tmp_path / 'dagster'}",
    ]
    assert dbt_environment()["PGSSLROOTCERT"] == "/etc/warehouse/tls/ca.crt"
    assert settings.connection().keywords("postgres") == {
        "host": "db.example.internal",
        "port": 6543,
        "user": "builder",
        "dbname": "postgres",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/warehouse/tls/ca.crt",
        "sslcert": "/etc/warehouse/tls/builder.crt",
        "sslkey": "/etc/warehouse/tls/builder.key",
    }


def test_unset_tls_variables_are_left_to_libpq(monkeypatch):
    monkeypatch.setenv("PGHOST", "db.example.internal")
    for name in ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGSSLCERT", "")  # empty counts as unset

    conn = settings.connection()

    assert conn.tls_keywords() == {}
    assert not any(name.startswith("PGSSL") for name in conn.as_env())
    assert conn.describe() == f"{conn.user}@db.example.internal:{conn.port}/{conn.database}"


def test_pghost_naming_the_embedded_socket_is_the_embedded_server(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGHOST", str(tmp_path / "home" / "pgdata"))

    assert settings.uses_embedded_server()


def test_connecting_to_a_missing_server_names_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PGHOST", str(tmp_path))  # a directory without a server socket
    monkeypatch.setenv("PGPORT", "5999")

    state = postgres.status()

    assert not state.answers
    assert str(tmp_path) in state.location
    with pytest.raises(psycopg.OperationalError), postgres.connect():
        pass
