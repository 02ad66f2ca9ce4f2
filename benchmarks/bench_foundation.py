"""Time the foundation on demo-sized data: generate, load, dbt build, sanitize.

Runs in a scratch database (``warehouse_bench``) on the warehouse's server, so the demo's
database is untouched. Prints a Markdown table for docs/benchmarks.md.

    make bench            # or: .venv/bin/python benchmarks/bench_foundation.py --orgs 5 --days 62
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse import postgres
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths
from warehouse.privacy.sanitize import sanitize_text
from warehouse.synthetic.generator import GeneratorConfig, generate

BENCH_DATABASE = "warehouse_bench"


def _recreate_database(server) -> None:
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as admin:
        name = sql.Identifier(BENCH_DATABASE)
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        admin.execute(sql.SQL("create database {}").format(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=5)
    parser.add_argument("--days", type=int, default=62)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    server = postgres.up()
    _recreate_database(server)
    os.environ["PGDATABASE"] = BENCH_DATABASE
    until = datetime(2026, 11, 25, 12, tzinfo=UTC)
    config = GeneratorConfig(
        orgs=args.orgs, days=args.days, seed=args.seed, end_date=until.date(), until=until
    )
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        landing = Path(scratch) / "landing"
        started = time.perf_counter()
        summary = generate(landing, config)
        seconds = time.perf_counter() - started
        total_rows = sum(summary.file_rows.values())
        rows.append(
            (
                "generate",
                f"{seconds:.1f} s",
                f"{total_rows:,} rows in "
                f"{len(summary.file_rows)} files, {summary.distinct_tasks:,} tasks",
            )
        )

        with postgres.connect(autocommit=True) as connection:
            started = time.perf_counter()
            results = load_paths(connection, [landing])
            seconds = time.perf_counter() - started
            loaded = sum(result.rows_loaded for result in results)
            rows.append(
                (
                    "load (COPY, sanitize, 1 transaction per file)",
                    f"{seconds:.1f} s",
                    f"{loaded / seconds:,.0f} rows/s",
                )
            )
            started = time.perf_counter()
            again = load_paths(connection, [landing])
            seconds = time.perf_counter() - started
            skipped = sum(result.status == "skipped" for result in again)
            rows.append(
                (
                    "reload the same files",
                    f"{seconds:.2f} s",
                    f"{skipped} of {len(again)} skipped as already loaded",
                )
            )

        started = time.perf_counter()
        run_dbt(["build", "--quiet", "--vars", f"{{as_of: '{until.isoformat()}'}}"])
        rows.append(
            (
                "dbt build, first (every model and test, marts built whole)",
                f"{time.perf_counter() - started:.1f} s",
                f"{summary.distinct_tasks:,} tasks, in-process dbtRunner",
            )
        )
        later = (until + timedelta(hours=1)).isoformat()
        started = time.perf_counter()
        run_dbt(["build", "--quiet", "--vars", f"{{as_of: '{later}'}}"])
        rows.append(
            (
                "dbt build, incremental, no new data (open tasks move with as_of)",
                f"{time.perf_counter() - started:.1f} s",
                "every test runs again",
            )
        )

    texts = [f"Fix bug {n} in checkout for ada{n}@example.com on 10.0.{n % 255}.1"
             for n in range(100_000)]  # fmt: skip
    started = time.perf_counter()
    for text in texts:
        sanitize_text(text)
    seconds = time.perf_counter() - started
    rows.append(
        (
            "sanitize 100k texts, each with findings",
            f"{seconds:.2f} s",
            f"{len(texts) / seconds:,.0f} texts/s",
        )
    )

    with postgres.connect() as connection:
        version = connection.execute("show server_version").fetchone()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL {version}"
    )
    print("| step | time | throughput / note |")
    print("|---|---|---|")
    for step, duration, note in rows:
        print(f"| {step} | {duration} | {note} |")


if __name__ == "__main__":
    main()
