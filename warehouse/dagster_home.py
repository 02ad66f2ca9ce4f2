"""``make dagster``: the Dagster UI and daemon on the warehouse database.

DAGSTER_HOME (default ``.warehouse/dagster``) gets the instance settings of ``dagster.yaml``
beside this file: telemetry off, and a run queue that lets one dbt build run at a time.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from warehouse import postgres, settings
from warehouse.dbt import dbt_environment

INSTANCE_SETTINGS = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home() -> Path:
    """Create DAGSTER_HOME with the project's instance settings; return it."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_SETTINGS, home / "dagster.yaml")
    return home


def run_dagster_dev(*, port: int) -> int:
    """Replace this process with ``dagster dev`` on the code location (never returns)."""
    manifest = settings.project_dir() / "target" / "manifest.json"
    if not manifest.exists():
        print(f"error: {manifest} is missing: run `make manifest` first", file=sys.stderr)
        return 1
    postgres.up()
    home = prepare_dagster_home()
    env = {
        **os.environ,
        **dbt_environment(),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    dagster = Path(sys.executable).with_name("dagster")
    args = [str(dagster), "dev", "-m", "orchestration.definitions", "--port", str(port)]
    print(f"Dagster UI at http://127.0.0.1:{port} (DAGSTER_HOME={home}); Ctrl-C stops it.")
    os.chdir(settings.project_dir())
    os.execve(dagster, args, env)
    return 0  # not reached
