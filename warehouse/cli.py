"""The ``warehouse`` command: embedded database, loader, generator and the demo."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse import postgres, settings
from warehouse.ingest.contract import FILE_FORMATS, TABLES
from warehouse.ingest.migrations import apply_migrations
from warehouse.progress import Progress
from warehouse.tables import format_table

if TYPE_CHECKING:
    import psycopg

    from warehouse.ingest.loader import BatchResult, UnrecognizedFile
    from warehouse.ingest.parsing import LandingFile
    from warehouse.privacy.retention import RunResult

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
    if state.hint:
        print(state.hint)
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
    """The load report: one row per file and a total."""
    loaded = [result for result in results if result.status == "loaded"]
    return format_table(
        ("file", "table", "status", "read", "loaded", "rejected", "seconds"),
        [
            (
                Path(result.file).name,
                result.table,
                result.status,
                result.rows_read,
                result.rows_loaded,
                result.rows_rejected,
                f"{result.seconds:.2f}",
            )
            for result in results
        ],
        right=("read", "loaded", "rejected", "seconds"),
        total=(
            f"total ({len(results)} files)",
            "",
            f"{len(loaded)} loaded",
            sum(r.rows_read for r in results),
            sum(r.rows_loaded for r in results),
            sum(r.rows_rejected for r in results),
            f"{sum(r.seconds for r in results):.2f}",
        ),
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_unrecognized(files: Sequence[UnrecognizedFile]) -> str:
    """One line per file that is not a landing file, with the reason."""
    return "\n".join(f"  {item.path}: not a landing file: {item.reason}" for item in files)


def _load_with_progress(
    connection: psycopg.Connection, files: Sequence[LandingFile], *, force: bool
) -> list[BatchResult]:
    from warehouse.ingest.loader import load_or_fail

    results: list[BatchResult] = []
    if not files:
        return results
    with Progress(len(files), unit="file", description="loading") as progress:
        for number, item in enumerate(files, start=1):
            name = item.path.name
            progress.starting(name)
            result = load_or_fail(connection, item, force=force)
            if result.status == "loaded":
                loaded = _plural(result.rows_loaded, "row")
                outcome = (
                    f"{loaded} loaded, {result.rows_rejected:,} rejected ({result.seconds:.2f}s)"
                )
                if result.rows_erased:
                    outcome += f", {result.rows_erased:,} of erased subjects dropped"
            else:
                outcome = result.status
            progress.finished_step(
                f"[{number}/{len(files)}] {name}: {outcome}", notable=result.status == "failed"
            )
            results.append(result)
    return results


def _cmd_load(args: argparse.Namespace) -> int:
    from warehouse.ingest.loader import discover
    from warehouse.ingest.parsing import EXPECTED_NAMES, LandingFileError

    try:
        discovery = discover([Path(p) for p in args.paths], collect_unrecognized=True)
    except LandingFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    unrecognized = discovery.unrecognized
    if unrecognized and not args.ignore_unknown:
        print(
            f"error: {_plural(len(unrecognized), 'file')} not recognized, nothing was loaded:\n"
            f"{format_unrecognized(unrecognized)}\n"
            f"expected names: {EXPECTED_NAMES}\n"
            "rename or remove them, or pass --ignore-unknown to load the other files anyway",
            file=sys.stderr,
        )
        return 1
    postgres.up()
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        results = _load_with_progress(connection, discovery.files, force=args.force)
    print(format_results(results))
    for result in results:
        if result.status == "skipped":
            print(f"{Path(result.file).name}: {result.message}")
    if unrecognized:
        print(
            f"warning: ignored {_plural(len(unrecognized), 'unrecognized file')} "
            f"(--ignore-unknown):\n{format_unrecognized(unrecognized)}",
            file=sys.stderr,
        )
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


def _cmd_export_focus(args: argparse.Namespace) -> int:
    import psycopg

    from warehouse.arguments import ArgumentError, parse_month
    from warehouse.export.focus import (
        FOCUS_VERSION,
        FocusExportError,
        export_focus,
        output_format,
        parse_organization,
    )

    try:
        month = parse_month(args.month)
        organization_id = parse_organization(args.org)
        out = Path(args.out)
        output_format(out)
        with postgres.connect() as connection:
            result = export_focus(connection, month, out, organization_id)
    except (FocusExportError, ArgumentError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except psycopg.errors.UndefinedTable as error:
        print(
            f"error: {str(error).splitlines()[0]}: build the warehouse first (dbt build)",
            file=sys.stderr,
        )
        return 1
    print(
        f"wrote {_plural(result.rows, 'FOCUS ' + FOCUS_VERSION + ' row')} for "
        f"{month:%Y-%m} to {result.path} (billed cost {result.total_cost} USD)"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from warehouse.arguments import parse_month, parse_organization
    from warehouse.report import write_report

    try:
        organization_id = parse_organization(args.org)
        month = parse_month(args.month)
        with postgres.connect() as connection:
            path = write_report(connection, organization_id, month, Path(args.out))
    except ValueError as error:  # ReportError and the arguments' errors
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote the {month:%Y-%m} executive report to {path.resolve()}")
    return 0


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    postgres.up()
    if args.workers > 1 and not os.environ.get("REDIS_URL"):
        logger.warning("%s API processes without REDIS_URL: each keeps its own answer cache",
                       args.workers)  # fmt: skip
    uvicorn.run("warehouse.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=args.access_log)  # fmt: skip
    return 0


def _cmd_api_key(args: argparse.Namespace) -> int:
    from warehouse.api import keys
    from warehouse.tables import format_table

    postgres.up()
    try:
        with postgres.connect(autocommit=True) as connection:
            if args.action == "create":
                user_id = parse_user(args.user)
                expires = date.fromisoformat(args.expires) if args.expires else None
                made = keys.create_key(connection, user_id, expires)
                print(f"key {made.key_id} for user {user_id}"
                      + (f", expires {made.expires_at:%Y-%m-%d}" if made.expires_at else "")
                      + " (shown once, store it now):")  # fmt: skip
                print(made.token)
            elif args.action == "list":
                rows = [
                    (key, user, prefix, f"{created:%Y-%m-%d %H:%M}",
                     f"{expires:%Y-%m-%d}" if expires else None,
                     f"{revoked:%Y-%m-%d %H:%M}" if revoked else None)
                    for key, user, prefix, created, expires, revoked in keys.list_keys(connection)
                ]  # fmt: skip
                header = ("key", "user", "prefix", "created", "expires", "revoked")
                print(format_table(header, rows))
            else:
                keys.revoke_key(connection, args.key_id)
                print(f"key {args.key_id} revoked")
    except ValueError as error:  # ApiKeyError, a bad --user or --expires
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def parse_user(text: str):
    from uuid import UUID

    try:
        return UUID(text)
    except ValueError:
        raise ValueError(f"--user must be a user id (a UUID), not {text!r}") from None


def _cmd_privacy(args: argparse.Namespace) -> int:
    from warehouse.privacy.requests import (
        PrivacyRequestError,
        Subject,
        delete_subject,
        export_subject,
    )

    try:
        subject = (
            Subject.parse("user", args.user)
            if args.user
            else Subject.parse("organization", args.org)
        )
    except PrivacyRequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    postgres.up()
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        if args.action == "export":
            result = export_subject(
                connection, subject, Path(args.out), requested_by=args.requested_by,
                progress=print,
            )  # fmt: skip
            print(
                f"request {result.request_id}: exported {_plural(result.total_rows, 'row')} "
                f"about {subject.describe()} to {result.destination} (summary.json)"
            )
        else:
            result = delete_subject(
                connection, subject, dry_run=args.dry_run, requested_by=args.requested_by,
                progress=print,
            )  # fmt: skip
            verb = "would delete" if args.dry_run else "deleted"
            replaced = (
                f" (and their ids replaced by stand-ins in {_plural(result.replaced_rows, 'row')}"
                " of aggregates' day state)"
                if result.replaced_rows
                else ""
            )
            print(
                f"request {result.request_id}: {verb} {_plural(result.total_rows, 'row')} "
                f"about {subject.describe()}{replaced}"
                + ("" if args.dry_run else "; later files' rows about them are dropped on load")
            )
    return 0


def _add_privacy_parser(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser(
        "privacy",
        help="export or delete everything about a user or an organization",
        description="Export or delete every row about a user or an organization, in the "
        "raw, staging, analytics and monitoring schemas (organization-level aggregates, which "
        "name nobody, are kept). Each request is recorded in privacy.requests (docs/privacy.md).",
    )
    actions = privacy.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the subject's rows as JSON lines")
    delete = actions.add_parser("delete", help="delete the subject's rows everywhere")
    for action in (export, delete):
        subject = action.add_mutually_exclusive_group(required=True)
        subject.add_argument("--user", help="a user's id (UUID)")
        subject.add_argument("--org", help="an organization's id (UUID)")
        action.add_argument(
            "--requested-by", help="who asked, for the record (default: your login name)"
        )
        action.set_defaults(handler=_cmd_privacy)
    export.add_argument("--out", required=True, help="directory for the files and summary.json")
    delete.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, change nothing"
    )


def format_retention(result: RunResult) -> str:
    """What a retention run archived and deleted (or would), by organization and month."""
    verb = "would archive and delete" if result.dry_run else "archived and deleted"
    if not result.groups:
        lines = [f"no task expired as of {result.as_of:%Y-%m-%d %H:%M} UTC"]
    else:
        lines = [
            f"{verb} (as of {result.as_of:%Y-%m-%d %H:%M} UTC):",
            format_table(
                ("organization", "month", "tasks", "task rows", "decision rows"),
                [
                    (group.organization_id, group.month, group.tasks, group.task_rows,
                     group.decision_rows)
                    for group in result.groups
                ],
                right=("tasks", "task rows", "decision rows"),
                total=(
                    f"total ({_plural(len(result.groups), 'month')})",
                    "",
                    sum(group.tasks for group in result.groups),
                    result.task_rows,
                    result.decision_rows,
                ),
            ),
        ]  # fmt: skip
    if result.run_id:
        lines.append(
            f"run {result.run_id}: {_plural(len(result.files), 'archive file')} verified "
            f"under {result.archive}; deleted {result.task_rows_deleted:,} task rows, "
            f"{result.decision_rows_deleted:,} decision rows and "
            f"{result.row_level_rows_deleted:,} staging, mart and monitoring rows"
        )
    for name in result.dropped_partitions:
        lines.append(f"dropped the month partition raw.{name}: every row of it expired")
    expired_verb = "would delete" if result.dry_run else "deleted"
    for path in result.expired_archives:
        lines.append(f"{expired_verb} expired archive {path}")
    return "\n".join(lines)


def _cmd_retention(args: argparse.Namespace) -> int:
    from warehouse.privacy.retention import RetentionError, restore, run_retention

    try:
        postgres.up()
        with postgres.connect(autocommit=True) as connection:
            apply_migrations(connection)
            if args.action == "run":
                print(format_retention(run_retention(connection, dry_run=args.dry_run)))
                return 0
            restored = restore(connection, args.org, args.month)
    except (RetentionError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"restored {restored.task_rows_restored:,} of {restored.task_rows_read:,} task rows and "
        f"{restored.decision_rows_restored:,} of {restored.decision_rows_read:,} decision rows "
        f"from {_plural(restored.files, 'file')} (rows already in raw were skipped); "
        "`dbt build --full-refresh` brings them back into the staging tables and marts"
    )
    return 0


def _cmd_health(_: argparse.Namespace) -> int:
    from warehouse.alerting.channels import parse_urls
    from warehouse.alerting.publish import publish
    from warehouse.alerting.rules import database_health_alerts
    from warehouse.health import take_snapshot

    delivery = settings.alert_delivery()
    try:
        thresholds = settings.health_thresholds()
        channels = parse_urls(delivery.alert_urls)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    data_dir = settings.embedded_pgdata() if settings.uses_embedded_server() else None
    postgres.up()
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        snapshot = take_snapshot(
            connection, slow_query_ms=thresholds.slow_query_ms, data_dir=data_dir
        )
        alerts = database_health_alerts(connection, thresholds)
        publish(
            connection,
            alerts,
            log=logger,
            webhook_url=delivery.webhook_url,
            min_severity=delivery.min_severity,
            alert_urls=channels,
        )
    print(
        f"health snapshot {snapshot.snapshot_id}: {_plural(snapshot.relations, 'relation')}, "
        f"{snapshot.slow_queries:,} slow queries (monitoring.health_snapshots)"
    )
    for note in snapshot.notes:
        print(note)
    for alert in alerts:
        print(f"alert {alert.rule} [{alert.severity}] {alert.message}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the warehouse database (embedded unless PGHOST is set)")
    db.add_argument("action", choices=["up", "down", "status", "migrate"])
    db.set_defaults(handler=_cmd_db)

    env = commands.add_parser("env", help="print export lines for psql, dbt and dagster")
    env.set_defaults(handler=_cmd_env)

    load = commands.add_parser(
        "load",
        help="load landing files into the raw schema",
        description="Load landing files into the raw schema (COPY, one transaction per file, "
        "files loaded before skipped). A landing file is named "
        "<table>.<ext> or <table>__<anything>.<ext>, with <table> one of "
        f"{', '.join(TABLES)} and <ext> one of {', '.join(FILE_FORMATS)}. Any other file is "
        "listed as unrecognized and nothing is loaded (exit status 1), unless "
        "--ignore-unknown. Hidden files (.part-x.csv, any name starting with a dot) and the "
        "generator's _manifest.json are ignored without a word.",
    )
    load.add_argument("paths", nargs="+", help="files or directories of landing files")
    load.add_argument("--force", action="store_true", help="load files loaded before again")
    load.add_argument(
        "--ignore-unknown",
        action="store_true",
        help="load the landing files even when other files are present, and list those ignored",
    )
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

    retention = commands.add_parser(
        "retention",
        help="archive and delete expired raw rows, or restore an archived month",
        description="Retention (docs/privacy.md): a task expires when it started before its "
        "organization's retention_days (WAREHOUSE_RETENTION_DAYS when unset) ago, counted "
        "in whole UTC days. `run` archives its raw rows to Parquet under "
        "WAREHOUSE_ARCHIVE_URI, verifies the archive, then deletes them and the staging and "
        "mart rows built from them (never the rollups); `restore` brings a month back.",
    )
    retention_actions = retention.add_subparsers(dest="action", required=True)
    retention_run = retention_actions.add_parser(
        "run", help="archive, verify, then delete expired rows; delete expired archives"
    )
    retention_run.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be archived and deleted, by organization and month; change nothing",
    )
    retention_restore = retention_actions.add_parser(
        "restore", help="bring an organization's archived month back into raw"
    )
    retention_restore.add_argument("--org", required=True, help="the organization's UUID")
    retention_restore.add_argument("--month", required=True, help="the month, YYYY-MM (UTC)")
    retention.set_defaults(handler=_cmd_retention)

    health = commands.add_parser(
        "health",
        help="record a database health snapshot and raise its alerts",
        description="Database health (docs/operations.md): sizes and growth, unused indexes, "
        "dead tuples, connections, cache hit ratio, slow queries, disk; alerts per the "
        "WAREHOUSE_SLOW_QUERY_MS, WAREHOUSE_CACHE_HIT_MIN_PERCENT, "
        "WAREHOUSE_CONNECTIONS_MAX_PERCENT, WAREHOUSE_DISK_MAX_PERCENT, "
        "WAREHOUSE_TABLE_GROWTH_FACTOR and WAREHOUSE_TABLE_GROWTH_MIN_MB settings.",
    )
    health.set_defaults(handler=_cmd_health)

    demo = commands.add_parser("demo", help="generate, load and build a demo warehouse")
    demo.add_argument("--orgs", type=int, default=5)
    demo.add_argument("--days", type=int, default=62)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=_cmd_demo)

    report = commands.add_parser(
        "report",
        help="an organization's monthly executive report, a self-contained HTML page",
        description="The executive report of one organization and month (docs/reports.md): "
        "savings, cost against baseline by day, providers, teams, ROI, forecast, anomalies, "
        "recommendations and budgets, with charts; opens offline.",
    )
    report.add_argument("--org", required=True, help="the organization's id")
    report.add_argument("--month", required=True, help="YYYY-MM")
    report.add_argument("--out", required=True, help="FILE.html")
    report.set_defaults(handler=_cmd_report)

    api = commands.add_parser(
        "api", help="serve the reporting API (docs/api.md; OpenAPI docs at /docs)"
    )
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes (set REDIS_URL so that they share one answer cache)",
    )
    api.add_argument(
        "--access-log",
        action="store_true",
        help="print a line per request (api.requests records them anyway)",
    )
    api.set_defaults(handler=_cmd_api)

    api_key = commands.add_parser("api-key", help="the reporting API's keys: create, list, revoke")
    key_actions = api_key.add_subparsers(dest="action", required=True)
    key_create = key_actions.add_parser("create", help="a new key for a user (shown once)")
    key_create.add_argument("--user", required=True, help="the user's id")
    key_create.add_argument("--expires", help="YYYY-MM-DD (default: never)")
    key_actions.add_parser("list", help="every key (never a secret)")
    key_revoke = key_actions.add_parser("revoke", help="revoke a key now")
    key_revoke.add_argument("key_id", type=int)
    api_key.set_defaults(handler=_cmd_api_key)

    export = commands.add_parser("export", help="export the marts for other tools")
    formats = export.add_subparsers(dest="export_format", required=True, metavar="FORMAT")
    focus = formats.add_parser(
        "focus",
        help="a month's costs in FOCUS 1.2 columns for finance tools (docs/focus.md)",
        description="A month's costs of completed tasks, one row per organization, team, "
        "provider, task type, price and UTC day, in FOCUS 1.2 columns (the FinOps Open Cost "
        "and Usage Specification): CSV or Parquet, by the --out file's extension.",
    )
    focus.add_argument("--month", required=True, help="YYYY-MM")
    focus.add_argument("--org", help="one organization's id (default: every organization)")
    focus.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    focus.set_defaults(handler=_cmd_export_focus)

    _add_privacy_parser(commands)
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
