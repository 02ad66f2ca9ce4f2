"""PostgreSQL's defaults against settings sized for the machine, on the embedded server: the
1 M-version load and a first ``dbt build`` of 1 M tasks, interleaved (docs/scaling.md, "Server
settings"). Never part of ``make test``; needs the databases of ``bench_partitioning prepare``.

    .venv/bin/python -m benchmarks.bench_server_settings --runs 3

Each round runs every configuration, in alternating order; before each, the settings are
written with ALTER SYSTEM and the embedded server is restarted (``warehouse db down`` and
``up``: shared_buffers takes effect only at start). Per configuration: ``psql \\copy`` into an
unindexed table, ``warehouse load`` into the empty raw table and into fresh copies of the
flat and the start_time-partitioned tables holding 3 M versions, then ``dbt build`` on a fresh
copy of ``part_base`` as of its end. A checkpoint precedes each step. At the end the settings
the bench wrote are reset and the server is started as ``warehouse db up`` leaves it.
Restarts the embedded server: refuses to run against a server that PGHOST names.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_partitioning import BASE, DEFAULT_CSV, Server, joined, measured
from benchmarks.bench_scale import tool
from warehouse import settings

BIN = Path(sys.executable).parent
AS_OF = "2026-12-01T00:00:00+00:00"
MEMORY = {"shared_buffers": "2GB", "work_mem": "64MB", "maintenance_work_mem": "512MB",
          "max_wal_size": "8GB", "checkpoint_timeout": "15min"}  # fmt: skip
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "defaults": {},
    "wal and work_mem (shared_buffers 128MB)": {
        name: value for name, value in MEMORY.items() if name != "shared_buffers"
    },
    "memory (shared_buffers 2GB)": MEMORY,
    "memory and planner costs": {
        **MEMORY, "random_page_cost": "1.1", "effective_cache_size": "8GB"
    },
}  # fmt: skip
TOUCHED = sorted({name for values in CONFIGURATIONS.values() for name in values})


def restart(server: Server, values: dict[str, str]) -> None:
    with server.connect("postgres") as connection:
        for name in TOUCHED:
            if name in values:
                connection.execute(f"alter system set {name} = '{values[name]}'")
            else:
                connection.execute(f"alter system reset {name}")
    for verb in ("down", "up"):
        subprocess.run([str(BIN / "warehouse"), "db", verb], check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--only", action="append", choices=list(CONFIGURATIONS),
                        help="configurations to compare (default: all)")  # fmt: skip
    parser.add_argument("--steps", default="load,dbt")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args(argv)
    if not settings.uses_embedded_server():
        parser.error("restarts the embedded server; PGHOST names another server")
    server = Server()
    names = args.only or list(CONFIGURATIONS)
    steps = args.steps.split(",")
    results: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in names}
    copy = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
            f"\\copy bench.copy_target from '{args.csv}' with (format csv, header)"]  # fmt: skip
    loader = [str(BIN / "warehouse"), "load", str(args.csv)]
    dbt_env = {"DBT_TARGET_PATH": "/tmp/bench-settings/dbt-target",
               "DBT_LOG_PATH": "/tmp/bench-settings/dbt-logs"}  # fmt: skip
    dbt = [str(BIN / "dbt"), "build", "--vars", f"{{as_of: '{AS_OF}'}}"]
    subprocess.run([str(BIN / "dbt"), "parse", "--quiet"],
                   env={**server.env(BASE), **dbt_env}, check=True)  # fmt: skip

    def timed(name: str, step: str, command: list[str], database: str) -> None:
        with server.connect("postgres") as connection:
            connection.execute("checkpoint")
        env = {**server.env(database), **dbt_env}
        run = measured(server, lambda: subprocess.run(command, env=env, check=True,
                                                      capture_output=True))  # fmt: skip
        if command is dbt:
            with server.connect(database) as connection:
                run["temp_mb"] = float(connection.execute(
                    "select temp_bytes from pg_stat_database where datname = %s", (database,)
                ).fetchone()[0]) / 2**20  # fmt: skip
            nodes = json.loads(Path(dbt_env["DBT_TARGET_PATH"], "run_results.json").read_text())
            run["nodes"] = {node["unique_id"]: node["execution_time"]
                            for node in nodes["results"]}  # fmt: skip
        results[name].setdefault(step, []).append(run)
        print(f"{name}: {step}: {run['seconds']:.1f} s", file=sys.stderr, flush=True)

    try:
        for number in range(args.runs):
            for name in names if number % 2 == 0 else names[::-1]:
                restart(server, CONFIGURATIONS[name])
                server = Server()
                if "load" in steps:
                    with server.connect("part_flat_e") as connection:
                        connection.execute("truncate bench.copy_target")
                    timed(name, "psql \\copy, unindexed table", copy, "part_flat_e")
                    with server.connect("part_flat_e") as connection:
                        connection.execute("truncate raw.task_executions, raw.rejected_rows, "
                                           "raw.load_batches cascade")  # fmt: skip
                    timed(name, "warehouse load, empty table", loader, "part_flat_e")
                    for variant in ("flat", "start"):
                        server.copy_database("part_run", f"part_{variant}")
                        timed(name, f"warehouse load, {variant}, holding 3 M versions", loader,
                              "part_run")  # fmt: skip
                    server.drop_database("part_run")
                if "dbt" in steps:
                    server.copy_database("part_dbt", BASE)
                    timed(name, "first dbt build", dbt, "part_dbt")
                    server.drop_database("part_dbt")
                if args.json:
                    args.json.write_text(json.dumps(results))
    finally:
        restart(server, {})
    print("| configuration | step | median s | runs s | load average | WAL MB | temp MB |")
    print("|---|---|---:|---|---|---:|---:|")
    for name, by_step in results.items():
        for step, runs in by_step.items():
            median = statistics.median(run["seconds"] for run in runs)
            print(
                f"| {name} | {step} | {median:.1f} | "
                f"{joined(runs, 'seconds')} | {joined(runs, 'load')} | "
                f"{statistics.median(run['wal_mb'] for run in runs):.0f} | "
                f"{statistics.median(run.get('temp_mb', 0) for run in runs):.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
