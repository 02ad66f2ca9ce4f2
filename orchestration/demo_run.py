"""The demo's load and build as a real Dagster run, recorded in DAGSTER_HOME, so that
``make dagster`` afterwards shows every asset materialized and its checks evaluated.

``warehouse demo`` runs it as ``python -m orchestration.demo_run --landing DIR --as-of TS --log
FILE`` (the warehouse package never imports the code location)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TextIO

import dagster as dg

from warehouse.dagster_home import prepare_dagster_home
from warehouse.ingest.loader import discover
from warehouse.progress import Progress

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# dbt's line for a finished node: "12 of 131 OK created sql table model analytics.x ... [..]"
# (its START lines are left out); a warning, failure or error is kept above the progress bar.
DBT_NODE_FINISHED = re.compile(r"^(\d+) of (\d+) (?!START\b)([A-Z]+)")
DBT_NOTABLE = {"WARN", "FAIL", "ERROR"}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
DOT_PADDING = re.compile(r" \.{3,} ")


class DbtProgressTee(io.TextIOBase):
    """A stdout for the run: everything goes to the log file; dbt's finished-node lines also
    show as progress on ``screen`` (a bar on a terminal, the lines themselves otherwise)."""

    def __init__(self, log: TextIO, screen: TextIO) -> None:
        self._log = log
        self._screen = screen
        self._partial = ""
        self._progress: Progress | None = None
        self._total = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._show(ANSI_ESCAPE.sub("", line).strip())
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _show(self, line: str) -> None:
        match = DBT_NODE_FINISHED.match(line)
        if match is None or " hook: " in line:  # on-run-start hooks are not the build's nodes
            return
        total, status = int(match[2]), match[3]
        if self._progress is None or total != self._total:  # another dbt command
            self.close()
            self._progress = Progress(
                total, unit="node", description="dbt", stream=self._screen, indent="      "
            )
            self._total = total
        self._progress.finished_step(DOT_PADDING.sub(" ", line), notable=status in DBT_NOTABLE)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def run_load_and_build(landing: Path, as_of: str, log_file: Path) -> bool:
    """Run the job load_and_build on the files under ``landing``, its output (dbt's too) in
    ``log_file`` and dbt's progress on stdout; print what it materialized and checked; True
    when it succeeded."""
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
        DbtProgressTee(log, sys.stdout) as tee,
        redirect_stdout(tee),
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
