"""The dbt project, found in one place, and the housekeeping of its artifacts.

The manifest (``target/manifest.json``) that the code location reads is prepared by
``make manifest`` (``dbt parse``) or, under ``dagster dev`` only, by ``prepare_if_dev()`` when the
code location loads, so an edited model shows up on the next reload without a separate step.
Anywhere else importing this module never runs dbt.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from warehouse import settings

DBT_PROJECT = DbtProject(project_dir=settings.project_dir(), profiles_dir=settings.profiles_dir())
# `dagster dev` (DAGSTER_IS_DEV_CLI set): `dbt parse` with the dbt on PATH; no database needed.
DBT_PROJECT.prepare_if_dev()


def load_manifest() -> dict[str, Any]:
    """The manifest the dbt assets are built from; a clear error when it was never prepared."""
    path = DBT_PROJECT.manifest_path
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make manifest` (dbt parse) before loading the Dagster code "
            "outside `dagster dev`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


# Each dbt invocation from Dagster writes its artifacts (about 8 MB here) into its own folder
# under the target path; folders older than this are removed before the next invocation.
DBT_RUN_FOLDER_RETENTION = timedelta(hours=48)
DBT_SHARED_TARGET_ENTRIES = {"compiled", "run"}


def dbt_target_dir() -> Path:
    """The dbt target path (DBT_TARGET_PATH, else the project's ``target``)."""
    return DBT_PROJECT.project_dir / os.environ.get("DBT_TARGET_PATH", str(DBT_PROJECT.target_path))


def prune_dbt_run_folders(
    target: Path, *, older_than: timedelta = DBT_RUN_FOLDER_RETENTION
) -> list[Path]:
    """Remove the per-invocation folders dagster-dbt left under the dbt target path ``target``
    (those holding a dbt.log) last modified more than ``older_than`` ago; return them."""
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
