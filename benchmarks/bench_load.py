"""Time ``warehouse load`` of one CSV file against ``psql \\copy`` of the same file, side by side.

The CSV holds task versions as ``bench_scale.py`` exports them (``scale_dataset``, generated in a
scratch database, then ``copy (...) to stdout with (format csv, header)``), or any task file
given with ``--csv``. Each run times, one after the other on the same idle scratch database:
``psql \\copy`` into an unindexed table of the same columns, ``warehouse load`` of this checkout,
and, with ``--before DIR``, ``warehouse load`` of another checkout's ``warehouse`` package (e.g.
``git archive main warehouse | tar -x -C DIR``). Prints one markdown row per command: median
seconds, rows per second, and the throughput relative to ``psql \\copy``.

    .venv/bin/python -m benchmarks.bench_load --rows 1000000 --runs 3 --before /tmp/main
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks import scale_dataset
from benchmarks.bench_scale import tool
from warehouse import postgres
from warehouse.ingest.contract import TABLES
from warehouse.ingest.migrations import apply_migrations

COLUMNS = ", ".join(TABLES["task_executions"].column_names)
DATABASE = "warehouse_bench_load"
# Runs ``warehouse load`` from another checkout: its package first, not this editable install.
RUN_OTHER = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in repr(f)]; "
    "sys.path.insert(0, sys.argv[1]); from warehouse.cli import main; "
    "sys.exit(main(['load', sys.argv[2]]))"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="task versions to export")
    parser.add_argument("--csv", type=Path, help="time this task_executions CSV instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a directory holding another `warehouse`")
    parser.add_argument(
        "--without",
        choices=("indexes",),
        help="what-if: drop raw.task_executions' indexes in the scratch database (never in "
        "the warehouse) to see what they cost the loader",
    )
    return parser.parse_args(argv)


def connect(server, database: str) -> psycopg.Connection:
    return psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=database, autocommit=True
    )


def recreate(server, database: str) -> None:
    with connect(server, "postgres") as admin:
        name = sql.Identifier(database)
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        admin.execute(sql.SQL("create database {}").format(name))
    with connect(server, database) as connection:
        apply_migrations(connection)


def export_csv(server, rows: int, path: Path) -> None:
    """About ``rows`` task versions (three per task) from ``scale_dataset``, as CSV."""
    database = f"{DATABASE}_source"
    recreate(server, database)
    plan = scale_dataset.Plan(rows // 3 + 1, 30, 0, 42, datetime(2026, 3, 1, tzinfo=UTC))
    try:
        with connect(server, database) as connection:
            reference = scale_dataset.write_reference(connection, plan)
            scale_dataset.generate_windows(connection, plan, reference, range(plan.days))
            statement = (
                f"copy (select {COLUMNS} from raw.task_executions order by _batch_id, "
                f"_source_line limit {int(rows)}) to stdout with (format csv, header)"
            )
            cursor = connection.cursor()
            with open(path, "wb") as handle, cursor.copy(statement) as copy:
                for chunk in copy:
                    handle.write(chunk)
    finally:
        with connect(server, "postgres") as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = postgres.up()
    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    csv_path = scratch / "task_executions__bench.csv"
    if args.csv:
        csv_path.symlink_to(args.csv.resolve())
    else:
        export_csv(server, args.rows, csv_path)
    with open(csv_path, "rb") as handle:
        rows = sum(1 for _ in handle) - 1  # physical lines: exact for the exported file
    recreate(server, DATABASE)
    with connect(server, DATABASE) as connection:
        if args.without == "indexes":
            connection.execute(
                "drop index raw.task_executions_version_idx, raw.task_executions_batch_line_idx, "
                "raw.task_executions_loaded_at_brin"
            )
        connection.execute("create schema bench")
        connection.execute(
            f"create table bench.copy_target as select {COLUMNS} "
            "from raw.task_executions with no data"
        )
    env = {**os.environ, **server.as_env(), "PGDATABASE": DATABASE}
    commands = {
        "psql \\copy (unindexed table)": [
            tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
            f"\\copy bench.copy_target from '{csv_path}' with (format csv, header)",
        ],
        "warehouse load (this checkout)": [
            str(Path(sys.executable).parent / "warehouse"), "load", str(csv_path),
        ],
    }  # fmt: skip
    if args.before:
        commands["warehouse load (--before)"] = [
            sys.executable, "-c", RUN_OTHER, str(args.before.resolve()), str(csv_path),
        ]  # fmt: skip
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            with connect(server, DATABASE) as connection:
                connection.execute(
                    "truncate bench.copy_target, raw.task_executions, raw.rejected_rows, "
                    "raw.load_batches cascade"
                )
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            seconds[name].append(time.perf_counter() - started)
            print(f"run {run + 1}: {name}: {seconds[name][-1]:.1f} s", file=sys.stderr)
    copy_median = statistics.median(seconds["psql \\copy (unindexed table)"])
    without = "; raw.task_executions without its indexes" if args.without else ""
    print(f"{rows:,} rows, {csv_path.stat().st_size / 1e6:,.0f} MB, {args.runs} runs{without}")
    print("| command | median s | runs s | rows/s | throughput vs \\copy |")
    print("|---|---:|---|---:|---:|")
    for name, times in seconds.items():
        median = statistics.median(times)
        runs = ", ".join(f"{value:.1f}" for value in times)
        print(
            f"| {name} | {median:.1f} | {runs} | {rows / median:,.0f} | "
            f"{copy_median / median:.2f} |"
        )
    with connect(server, "postgres") as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE))
        )
    if not args.csv:
        csv_path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
