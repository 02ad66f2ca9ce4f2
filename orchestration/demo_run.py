"""The demo's load and build as a real Dagster run, recorded in DAGSTER_HOME, so that
``make dagster`` afterwards shows every asset materialized and its checks evaluated.

``warehouse demo`` runs it as ``python -m orchestration.demo_run --landing DIR --as-of TS --log
FILE`` (the warehouse package never imports the code location)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import dagster as dg

from warehouse.dagster_home import prepare_dagster_home
from warehouse.ingest.loader import discover

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_load_and_build(landing: Path, as_of: str, log_file: Path) -> bool:
    """Run the job load_and_build on the files under ``landing``, its output (dbt's too) in
    ``log_file``; print what it materialized and checked; True when it succeeded."""
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    from orchestration.definitions import defs
    from orchestration.defs.ingest_assets import LOAD_ASSETS_NAME
    from orchestration.defs.jobs import build_run_config

    run_config = build_run_config(as_of)
    files = [str(item.path) for item in discover([landing]).files]
    run_config["ops"][LOAD_ASSETS_NAME] = {"config": {"files": files}}
    for name in ("dagster", "dagster.builtin"):  # their INFO lines are in the run log
        logging.getLogger(name).setLevel(logging.WARNING)
    with (
        dg.DagsterInstance.get() as instance,
        open(log_file, "w", encoding="utf-8") as log,
        redirect_stdout(log),
        redirect_stderr(log),
    ):
        result = defs.resolve_job_def("load_and_build").execute_in_process(
            run_config={**run_config, **QUIET_LOGS},
            instance=instance,
            raise_on_error=False,
            tags={"warehouse/demo": "true", "warehouse/as_of": as_of},
        )
    _print_outcome(result, log_file)
    return result.success


def _print_outcome(result: dg.ExecuteInProcessResult, log_file: Path) -> None:
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    warned = [e for e in failed if e.severity == dg.AssetCheckSeverity.WARN]
    print(f"      run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    print(f"      {len(materialized)} assets materialized; {len(evaluations)} checks: "
          f"{len(evaluations) - len(failed)} passed, {len(warned)} warned, "
          f"{len(failed) - len(warned)} failed")  # fmt: skip
    for evaluation in failed:
        level = "warn " if evaluation.severity == dg.AssetCheckSeverity.WARN else "ERROR"
        count = evaluation.metadata.get("dagster_dbt/failed_row_count")
        rows = f" ({count.value} rows)" if count is not None else ""
        key = "/".join(evaluation.asset_key.path)
        print(f"        {level} {key}: {evaluation.check_name}{rows}")
    print(f"      run log (dbt output included): {log_file}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the demo's load_and_build job.")
    parser.add_argument("--landing", type=Path, required=True, help="landing files to load")
    parser.add_argument("--as-of", required=True, help="the build's as_of (ISO-8601)")
    parser.add_argument("--log", type=Path, required=True, help="file for the run's output")
    args = parser.parse_args(argv)
    return 0 if run_load_and_build(args.landing, args.as_of, args.log) else 1


if __name__ == "__main__":
    sys.exit(main())
