"""Resources: the dbt project and CLI, and the warehouse database.

Nothing here connects to the database or runs dbt at import time; the dbt manifest is prepared
by ``make manifest`` (``dbt parse``) before Dagster loads the code location.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource, DbtProject

from warehouse import postgres, settings
from warehouse.dbt import dbt_environment, environment

DBT_PROJECT = DbtProject(project_dir=settings.project_dir(), profiles_dir=settings.profiles_dir())


# Each dbt invocation from Dagster writes its artifacts (about 8 MB here) into its own folder
# under the target path; folders older than this are removed before the next invocation.
DBT_RUN_FOLDER_RETENTION = timedelta(hours=48)
DBT_SHARED_TARGET_ENTRIES = {"compiled", "run"}


def prune_dbt_run_folders(
    target: Path | None = None, *, older_than: timedelta = DBT_RUN_FOLDER_RETENTION
) -> list[Path]:
    """Remove the per-invocation folders dagster-dbt left under the dbt target path (those
    holding a dbt.log) last modified more than ``older_than`` ago; return them."""
    if target is None:
        target = DBT_PROJECT.project_dir / os.environ.get("DBT_TARGET_PATH", "target")
    if not target.is_dir():
        return []
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for folder in target.iterdir():
        if (
            folder.is_dir()
            and folder.name not in DBT_SHARED_TARGET_ENTRIES
            and (folder / "dbt.log").exists()
            and folder.stat().st_mtime < cutoff
        ):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


@contextmanager
def warehouse_environment() -> Iterator[None]:
    """The libpq variables of the warehouse (embedded server started if it is ours), for dbt."""
    postgres.up()
    prune_dbt_run_folders()
    with environment(dbt_environment()):
        yield


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL: the one PGHOST names, else the embedded server."""

    def start(self) -> None:
        """Make sure the database answers (starts the embedded server when it is ours)."""
        postgres.up()

    def connect(self) -> AbstractContextManager[psycopg.Connection]:
        """An autocommit connection; the caller closes it (``with warehouse.connect() as c``)."""
        return postgres.connect(autocommit=True)


def resources() -> dict[str, object]:
    return {
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(),
    }
