"""The ``warehouse`` command: embedded database, loader, generator and the demo."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse import postgres, settings
from warehouse.ingest.migrations import apply_migrations

if TYPE_CHECKING:
    from warehouse.ingest.loader import BatchResult

logger = logging.getLogger("warehouse")


def _cmd_db(args: argparse.Namespace) -> int:
    if args.action == "up":
        conn = postgres.up()
        with postgres.connect(autocommit=True) as connection:
            applied = apply_migrations(connection)
        kind = "embedded" if settings.uses_embedded_server() else "external (PGHOST)"
        print(f"{kind} PostgreSQL ready at {conn.describe()}")
        if applied:
            print(f"applied {len(applied)} migration(s) to schema raw")
        return 0
    if args.action == "down":
        print(postgres.down())
        return 0
    if args.action == "migrate":
        with postgres.connect(autocommit=True) as connection:
            applied = apply_migrations(connection)
        print(f"applied {len(applied)} migration(s)" if applied else "schema raw is up to date")
        return 0
    state = postgres.status()
    kind = "embedded" if state.embedded else "external (PGHOST)"
    answer = "answers" if state.answers else "does not answer"
    print(f"{kind} PostgreSQL at {state.location}: {answer} ({state.detail})")
    return 0 if state.answers else 1


def _cmd_dagster(args: argparse.Namespace) -> int:
    from warehouse.dagster_home import run_dagster_dev

    return run_dagster_dev(port=args.port)


def _cmd_env(_: argparse.Namespace) -> int:
    conn = settings.connection()
    values = {
        **conn.as_env(),
        "DBT_PROFILES_DIR": str(settings.profiles_dir()),
        "DAGSTER_HOME": str(settings.dagster_home()),
    }
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def format_results(results: Sequence[BatchResult]) -> str:
    header = ("file", "table", "status", "read", "loaded", "rejected", "seconds")
    rows = [
        (
            Path(result.file).name,
            result.table,
            result.status,
            str(result.rows_read),
            str(result.rows_loaded),
            str(result.rows_rejected),
            f"{result.seconds:.2f}",
        )
        for result in results
    ]
    loaded = [result for result in results if result.status == "loaded"]
    rows.append(
        (
            f"total ({len(results)} files)",
            "",
            f"{len(loaded)} loaded",
            str(sum(r.rows_read for r in results)),
            str(sum(r.rows_loaded for r in results)),
            str(sum(r.rows_rejected for r in results)),
            f"{sum(r.seconds for r in results):.2f}",
        )
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {3, 4, 5, 6}

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if index in numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def _cmd_load(args: argparse.Namespace) -> int:
    from warehouse.ingest.loader import load_paths
    from warehouse.ingest.parsing import LandingFileError

    postgres.up()
    try:
        with postgres.connect(autocommit=True) as connection:
            results = load_paths(connection, [Path(p) for p in args.paths], force=args.force)
    except LandingFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_results(results))
    for result in results:
        if result.status == "skipped":
            print(f"{Path(result.file).name}: {result.message}")
    failed = [result for result in results if result.status == "failed"]
    for result in failed:
        print(f"error: {result.message}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from warehouse.synthetic.generator import GeneratorConfig, generate

    config = GeneratorConfig(
        orgs=args.orgs,
        days=args.days,
        seed=args.seed,
        end_date=args.end or datetime.now(UTC).date(),
        chaos=args.chaos,
        file_format=args.format,
        until=args.until.astimezone(UTC) if args.until else None,
    )
    summary = generate(Path(args.out), config)
    print(summary.describe())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from warehouse.demo import run_demo

    return run_demo(orgs=args.orgs, days=args.days, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the warehouse database (embedded unless PGHOST is set)")
    db.add_argument("action", choices=["up", "down", "status", "migrate"])
    db.set_defaults(handler=_cmd_db)

    env = commands.add_parser("env", help="print export lines for psql, dbt and dagster")
    env.set_defaults(handler=_cmd_env)

    load = commands.add_parser("load", help="load landing files into the raw schema")
    load.add_argument("paths", nargs="+", help="files or directories of landing files")
    load.add_argument("--force", action="store_true", help="load files loaded before again")
    load.set_defaults(handler=_cmd_load)

    generate = commands.add_parser("generate", help="write realistic synthetic landing files")
    generate.add_argument("out", help="output directory")
    generate.add_argument("--orgs", type=int, default=3)
    generate.add_argument("--days", type=int, default=60)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--end", type=date.fromisoformat, help="last day (default: today UTC)")
    generate.add_argument(
        "--until",
        type=datetime.fromisoformat,
        help="ISO timestamp the platform stands at: later versions are not delivered yet",
    )
    generate.add_argument("--chaos", action="store_true", help="add every kind of bad row")
    generate.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
    generate.set_defaults(handler=_cmd_generate)

    dagster = commands.add_parser(
        "dagster", help="start the Dagster UI and daemon (dagster dev) on the warehouse database"
    )
    dagster.add_argument("--port", type=int, default=3000)
    dagster.set_defaults(handler=_cmd_dagster)

    demo = commands.add_parser("demo", help="generate, load and build a demo warehouse")
    demo.add_argument("--orgs", type=int, default=5)
    demo.add_argument("--days", type=int, default=62)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
