"""``make dagster``: the Dagster UI and daemon on the warehouse database.

DAGSTER_HOME (default ``.warehouse/dagster``) gets the instance settings of ``dagster.yaml``
beside this file (telemetry off, a run queue that lets one dbt build run at a time) and, with
``WAREHOUSE_DAGSTER_STORAGE=postgres``, a storage block that keeps Dagster's runs, event logs and
schedule state in schema ``dagster`` of the warehouse database instead of SQLite files.
``python -m warehouse.dagster_home`` prepares it without starting Dagster (``make dagster-home``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from psycopg import sql

from warehouse import postgres, settings
from warehouse.dbt import dbt_environment

INSTANCE_SETTINGS = Path(__file__).with_name("dagster.yaml")
DAGSTER_SCHEMA = "dagster"
# dagster-postgres storage. The connection is the warehouse's (libpq keywords, so the embedded
# server's socket directory works as host); there is never a password in it: libpq reads
# PGPASSWORD or ~/.pgpass, and the TLS settings (PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY),
# from the environment of the Dagster processes itself, so they are not written here either.
POSTGRES_STORAGE = """
# Runs, event logs and schedule state in schema {schema} of the warehouse database
# (WAREHOUSE_DAGSTER_STORAGE=postgres). Written by `make dagster-home`; no password here.
storage:
  postgres:
    postgres_db:
      scheme: postgresql+psycopg2
      username: {user}
      hostname: ""
      port: {port}
      db_name: {database}
      params:
        host: {host}
        options: -c search_path={schema}
"""


def postgres_storage(conn: settings.ConnectionSettings, schema: str = DAGSTER_SCHEMA) -> str:
    """The ``storage`` block of dagster.yaml for the database ``conn`` names, in ``schema``."""
    return POSTGRES_STORAGE.format(
        schema=schema,
        user=json.dumps(conn.user),
        port=conn.port,
        database=json.dumps(conn.database),
        host=json.dumps(conn.host),
    )


def instance_settings() -> str:
    """The text of DAGSTER_HOME/dagster.yaml: the project's settings, plus the PostgreSQL storage
    block when WAREHOUSE_DAGSTER_STORAGE is ``postgres``."""
    text = INSTANCE_SETTINGS.read_text(encoding="utf-8")
    if settings.dagster_storage() == "postgres":
        text += postgres_storage(settings.connection())
    return text


def create_dagster_schema() -> None:
    """Create schema ``dagster`` in the warehouse database (Dagster creates its tables there)."""
    with postgres.connect(autocommit=True) as connection:
        connection.execute(
            sql.SQL("create schema if not exists {}").format(sql.Identifier(DAGSTER_SCHEMA))
        )


def prepare_dagster_home() -> Path:
    """Create DAGSTER_HOME and write its dagster.yaml; with PostgreSQL storage also create the
    schema it uses (the database must answer). Return DAGSTER_HOME."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_settings(), encoding="utf-8")
    if settings.dagster_storage() == "postgres":
        create_dagster_schema()
    return home


def run_dagster_dev(*, port: int) -> int:
    """Replace this process with ``dagster dev`` on the code location that ``[tool.dagster]``
    of pyproject.toml names (never returns). ``dagster dev`` prepares the dbt manifest itself."""
    postgres.up()
    home = prepare_dagster_home()
    venv_bin = Path(sys.executable).parent  # dagster-dbt runs the dbt on PATH to parse
    env = {
        **os.environ,
        **dbt_environment(),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PATH": os.pathsep.join([str(venv_bin), os.environ.get("PATH", "")]),
    }
    dagster = venv_bin / "dagster"
    args = [str(dagster), "dev", "--port", str(port)]
    print(f"Dagster UI at http://127.0.0.1:{port} (DAGSTER_HOME={home}); Ctrl-C stops it.")
    os.chdir(settings.project_dir())
    os.execve(dagster, args, env)
    return 0  # not reached


if __name__ == "__main__":
    print(f"DAGSTER_HOME={prepare_dagster_home()} ({settings.dagster_storage()} storage)")
