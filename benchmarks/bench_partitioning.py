"""Monthly range partitions of ``raw.task_executions`` against the table as it is: loads, the
incremental look-ups of staging, and retention, side by side (docs/scaling.md, "Partitioning
the raw task table"). Never part of ``make test``.

    .venv/bin/python -m benchmarks.bench_partitioning prepare      # datasets, a few minutes
    .venv/bin/python -m benchmarks.bench_partitioning load --runs 5
    .venv/bin/python -m benchmarks.bench_partitioning lookups --runs 3
    .venv/bin/python -m benchmarks.bench_partitioning retention --runs 3
    .venv/bin/python -m benchmarks.bench_partitioning drop

Scratch databases on the warehouse's server (never the warehouse database itself):

- ``part_base``: the raw schema by the project's migrations and ``scale_dataset`` at 1 M tasks
  over 90 days (seed 42) ending 2026-12-01: 2,994,000 task versions, September to November;
- ``part_flat``, ``part_start``, ``part_loaded``, ``part_batch``: copies of it whose task
  table is one plain table (as before migration 0005), or range-partitioned by month of
  ``start_time`` (as migration 0005 makes it), of ``_loaded_at``, or of loads by batch id,
  with the same columns and equivalent indexes (the unique batch-line index then has to
  include the partition key), all rebuilt so that every variant starts from fresh ones;
  routing decisions emptied. In the variants not partitioned by ``start_time``, the
  loader's month-making after each file is a no-op;
- ``part_<variant>_e``: the same, emptied, for loads into an empty table.

The CSV file (``--csv``) holds 997,998 task versions of another 333,334 tasks (seed 43) that
start in December 2026, exported as ``bench_scale.py`` exports its load file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks import scale_dataset
from benchmarks.bench_scale import tool
from warehouse import postgres
from warehouse.ingest.contract import TABLES
from warehouse.ingest.migrations import apply_migrations

BIN = Path(sys.executable).parent
BASE = "part_base"
VARIANTS = {"flat": None, "start": "start_time", "loaded": "_loaded_at", "batch": "_batch_id"}
COLUMNS = ", ".join(TABLES["task_executions"].column_names)
LARGER, LARGER_VARIANTS = "_x3", ("flat", "start", "batch")
DEFAULT_CSV = Path("/tmp/bench-partitioning/task_executions__bench.csv")
BASE_PLAN = scale_dataset.Plan(1_000_000, 90, 0, 42, datetime(2026, 12, 1, tzinfo=UTC))
CSV_PLAN = scale_dataset.Plan(333_334, 30, 0, 43, datetime(2026, 12, 31, tzinfo=UTC))
# Batches of the base data: 183 is the last window's task batch, so "since the watermark"
# is one day of versions (33,960), what an incremental build after one day reads.
WATERMARK, HORIZON = 182, 184

# a variant's task table, from the table the migrations make (partitioned by start_time)
PARTITION = """
alter table raw.task_executions rename to task_executions_before;
create table raw.task_executions
    (like raw.task_executions_before including defaults including constraints)
    {partition_by};
{partitions}
insert into raw.task_executions
select * from raw.task_executions_before order by _batch_id, _source_line;
drop table raw.task_executions_before;
create index task_executions_version_idx on raw.task_executions (id, updated_at desc);
create unique index task_executions_batch_line_idx
    on raw.task_executions ({unique_columns});
create index task_executions_loaded_at_brin on raw.task_executions using brin (_loaded_at);
"""
# the loader's month-making, where the table is not partitioned by month of start_time
NO_MONTHS = """
create or replace function raw.place_default_task_executions() returns integer
language sql as 'select 0'
"""
MONTHS = ("2026-08", "2026-09", "2026-10", "2026-11", "2026-12", "2027-01", "2027-02")
# A month of loads, by batch id: from the month's first batch to the next month's (the newest
# month open-ended); the unique batch-line index then needs no other column.
BATCH_MONTHS = """
select to_char(month, 'YYYY_MM'),
    case when month = min(month) over () then 'minvalue' else first_batch::text end,
    coalesce(lead(first_batch::text) over (order by month), 'maxvalue')
from (
    select date_trunc('month', started_at) as month, min(batch_id) as first_batch
    from raw.load_batches group by 1
) as months
"""


def partitions_sql(connection: psycopg.Connection, key: str) -> str:
    """The partitions of a variant: months of start_time or _loaded_at (and a default
    partition, so that no row is refused), or months of loads by batch id."""
    if key == "_batch_id":
        bounds = connection.execute(BATCH_MONTHS).fetchall()
        return "\n".join(
            f"create table raw.task_executions_{month} partition of raw.task_executions "
            f"for values from ({lower}) to ({upper});"
            for month, lower, upper in bounds
        )
    months = "\n".join(
        f"create table raw.task_executions_{month.replace('-', '_')} partition of "
        f"raw.task_executions for values from ('{month}-01') to "
        f"('{month}-01'::date + interval '1 month');"
        for month in MONTHS
    )
    return (
        months + "\ncreate table raw.task_executions_default partition of "
        "raw.task_executions default;"
    )


LOOKUPS = {
    "versions since the watermark (ids)": (
        f"select id from raw.task_executions where _batch_id > {WATERMARK} "
        f"and _batch_id <= {HORIZON}"
    ),
    "all versions of the changed tasks (versions_to_rank)": (
        f"select versions.* from raw.task_executions as versions "
        f"where versions._batch_id <= {HORIZON} and versions.id in ("
        f"select changed.id from raw.task_executions as changed "
        f"where changed._batch_id > {WATERMARK} and changed._batch_id <= {HORIZON})"
    ),
    "changed_task_versions (= any(array(...)))": (
        "select * from raw.task_executions where id = any(array("
        f"select id from raw.task_executions where _batch_id > {WATERMARK}))"
    ),
    "versions loaded on one day (BRIN, data_quality_daily)": (
        "select count(*) from raw.task_executions "
        "where _loaded_at >= '2026-11-15' and _loaded_at < '2026-11-16'"
    ),
    "newest-version ranking of every row (a first build)": (
        "select count(*) from (select row_number() over (partition by id order by "
        "updated_at desc, _loaded_at desc, _batch_id desc, _source_line desc) as version_rank "
        "from raw.task_executions) as ranked where version_rank = 1"
    ),
}

DELETE_MONTH = "delete from raw.task_executions where start_time < '2026-10-01'"
DELETE_ORGANIZATIONS = (
    "delete from raw.task_executions as tasks using raw.organizations as organizations "
    "where organizations.id = tasks.organization_id and organizations.retention_days = 90 "
    "and tasks.start_time < '2026-10-01'"
)
DELETE_STEPS = (("delete", DELETE_MONTH), ("vacuum", "vacuum raw.task_executions"))
DELETE_ORGANIZATION_STEPS = (
    ("delete", DELETE_ORGANIZATIONS),
    ("vacuum", "vacuum raw.task_executions"),
)
DROP_STEPS = (
    (
        "detach partition",
        "alter table raw.task_executions detach partition raw.task_executions_2026_09",
    ),
    ("drop table", "drop table raw.task_executions_2026_09"),
)
RETENTION = {
    "flat: delete September": ("flat", DELETE_STEPS),
    "start: drop September": ("start", DROP_STEPS),
    "loaded: drop September": ("loaded", DROP_STEPS),
    "batch: drop September's loads": ("batch", DROP_STEPS),
    "flat: delete September of the 90-day organizations": ("flat", DELETE_ORGANIZATION_STEPS),
    "start: delete September of the 90-day organizations": ("start", DELETE_ORGANIZATION_STEPS),
}  # fmt: skip


class Server:
    def __init__(self) -> None:
        self.conn = postgres.up()

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(
            host=self.conn.host, port=self.conn.port, user=self.conn.user, dbname=database,
            autocommit=True,
        )  # fmt: skip

    def env(self, database: str) -> dict[str, str]:
        return {**os.environ, **self.conn.as_env(), "PGDATABASE": database}

    def copy_database(self, name: str, template: str) -> None:
        with self.connect("postgres") as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))  # fmt: skip
            admin.execute(
                sql.SQL("create database {} template {} strategy file_copy").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )

    def drop_database(self, name: str) -> None:
        with self.connect("postgres") as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))  # fmt: skip

    def wal_bytes(self) -> int:
        with self.connect("postgres") as connection:
            return int(connection.execute("select pg_current_wal_lsn() - '0/0'").fetchone()[0])

    def cpu_seconds(self) -> float:
        """CPU time of the server: the postmaster, its live processes and the ended ones."""
        postmaster = int((Path(self.conn.host) / "postmaster.pid").read_text().split()[0])
        total = _proc_cpu_ticks(postmaster, children=True)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _parent(entry) == postmaster:
                total += _proc_cpu_ticks(int(entry.name), children=False)
        return total / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | Path) -> list[str]:
    path = pid / "stat" if isinstance(pid, Path) else Path(f"/proc/{pid}/stat")
    return path.read_text().rsplit(")", 1)[1].split()


def _parent(entry: Path) -> int | None:
    try:
        return int(_stat_fields(entry)[1])
    except (OSError, IndexError):
        return None


def _proc_cpu_ticks(pid: int, *, children: bool) -> int:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0
    return sum(int(value) for value in fields[11 : 15 if children else 13])


# ---------------------------------------------------------------------- prepare


def prepare(server: Server, csv_path: Path) -> None:
    with server.connect("postgres") as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(BASE)))  # fmt: skip
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(BASE)))
    started = time.perf_counter()
    with server.connect(BASE) as connection:
        apply_migrations(connection)
        connection.execute("set session_replication_role = replica")
        reference = scale_dataset.write_reference(connection, BASE_PLAN)
        scale_dataset.generate_windows(connection, BASE_PLAN, reference, range(BASE_PLAN.days))
        connection.execute("vacuum analyze raw.task_executions, raw.routing_decisions")
    print(f"{BASE}: {scale_dataset.describe(BASE_PLAN, reference)}; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    for variant, key in VARIANTS.items():
        name = f"part_{variant}"
        server.copy_database(name, BASE)
        with server.connect(name) as connection:
            connection.execute("truncate raw.routing_decisions")
            unique = "_batch_id, _source_line" + ("" if key in (None, "_batch_id") else f", {key}")
            connection.execute(PARTITION.format(
                partition_by="" if key is None else f"partition by range ({key})",
                partitions="" if key is None else partitions_sql(connection, key),
                unique_columns=unique,
            ))  # fmt: skip
            if key != "start_time":
                connection.execute(NO_MONTHS)
            connection.execute("vacuum analyze raw.task_executions")
        server.copy_database(f"{name}_e", name)
        with server.connect(f"{name}_e") as connection:
            connection.execute(
                "truncate raw.task_executions, raw.rejected_rows, raw.load_batches cascade"
            )
            connection.execute("create schema if not exists bench")
            connection.execute(f"create table bench.copy_target as select {COLUMNS} "
                               "from raw.task_executions with no data")  # fmt: skip
        print(f"{name}, {name}_e ready")
    export_csv(server, csv_path)


def export_csv(server: Server, csv_path: Path) -> None:
    source = "part_csv_source"
    with server.connect("postgres") as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(source)))  # fmt: skip
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(source)))
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with server.connect(source) as connection:
            apply_migrations(connection)
            connection.execute("set session_replication_role = replica")
            reference = scale_dataset.write_reference(connection, CSV_PLAN)
            scale_dataset.generate_windows(connection, CSV_PLAN, reference, range(CSV_PLAN.days))
            statement = (
                f"copy (select {COLUMNS} from raw.task_executions order by _batch_id, "
                "_source_line limit 1000000) to stdout with (format csv, header)"
            )
            with open(csv_path, "wb") as handle, connection.cursor().copy(statement) as copy:
                for chunk in copy:
                    handle.write(chunk)
    finally:
        server.drop_database(source)
    print(f"{csv_path}: {csv_path.stat().st_size / 1e6:,.0f} MB")


# ---------------------------------------------------------------------- measurements


def measured(server: Server, run: Callable[[], None]) -> dict[str, float]:
    """Wall seconds, WAL, server and client CPU of one run; the load average before it."""
    load = os.getloadavg()[0]
    wal, server_cpu, before = server.wal_bytes(), server.cpu_seconds(), os.times()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    after = os.times()
    return {
        "seconds": seconds,
        "load": load,
        "wal_mb": (server.wal_bytes() - wal) / 2**20,
        "server_cpu": server.cpu_seconds() - server_cpu,
        "client_cpu": after.children_user + after.children_system
        - before.children_user - before.children_system,
    }  # fmt: skip


def print_table(
    results: dict[str, list[dict[str, float]]], reference: str | None, digits: int = 1
) -> None:
    base = statistics.median(run["seconds"] for run in results[reference]) if reference else None
    print("| what | median s | runs s | load average | vs \\copy | WAL MB | server CPU s "
          "| client CPU s |")  # fmt: skip
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        median = statistics.median(run["seconds"] for run in runs)
        ratio = f"{base / median:.2f}" if base else "-"
        print(
            f"| {name} | {median:.{digits}f} | {joined(runs, 'seconds', digits)} | "
            f"{joined(runs, 'load')} | "
            f"{ratio} | {statistics.median(run['wal_mb'] for run in runs):.0f} | "
            f"{statistics.median(run['server_cpu'] for run in runs):.1f} | "
            f"{statistics.median(run['client_cpu'] for run in runs):.1f} |"
        )


def joined(runs: list[dict[str, float]], key: str, digits: int = 1) -> str:
    return ", ".join(f"{run[key]:.{digits}f}" for run in runs)


def load(server: Server, csv_path: Path, runs: int, *, larger: bool = False) -> None:
    """``psql \\copy`` into an unindexed table, then ``warehouse load`` into each variant:
    empty, and holding the 3 M-version history (a fresh copy per run); with ``larger``, only
    into the flat and start_time variants holding 9 M versions (``prepare-larger``)."""
    copy = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
            f"\\copy bench.copy_target from '{csv_path}' with (format csv, header)"]  # fmt: skip
    loader = [str(BIN / "warehouse"), "load", str(csv_path)]
    results: dict[str, list[dict[str, float]]] = {}

    def timed(name: str, command: list[str], database: str) -> None:
        with server.connect("postgres") as connection:
            connection.execute("checkpoint")
        runs_ = results.setdefault(name, [])
        runs_.append(measured(server, lambda: subprocess.run(
            command, env=server.env(database), check=True, capture_output=True)))  # fmt: skip
        print(f"{name}: {runs_[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)

    names = [f"{name}{LARGER}" for name in LARGER_VARIANTS] if larger else list(VARIANTS)
    history = "9 M" if larger else "3 M"
    for number in range(runs):
        order = names[number % len(names) :] + names[: number % len(names)]
        with server.connect("part_flat_e") as connection:
            connection.execute("truncate bench.copy_target")
        timed("psql \\copy, unindexed table", copy, "part_flat_e")
        for variant in [] if larger else order:
            with server.connect(f"part_{variant}_e") as connection:
                connection.execute(
                    "truncate raw.task_executions, raw.rejected_rows, raw.load_batches cascade"
                )
            timed(f"warehouse load, {variant}, empty", loader, f"part_{variant}_e")
        for variant in order:
            server.copy_database("part_run", f"part_{variant}")
            timed(f"warehouse load, {variant}, holding {history} versions", loader, "part_run")
    server.drop_database("part_run")
    print_table(results, "psql \\copy, unindexed table")


def lookups(server: Server, runs: int, settings: list[str]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each look-up in each variant, interleaved; ``settings``
    (``name=value``) are set in each session first."""
    timings: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    plans: dict[tuple[str, str], str] = {}
    for number in range(runs):
        for variant in VARIANTS:
            with server.connect(f"part_{variant}") as connection:
                for setting in settings:
                    name, value = setting.split("=", 1)
                    connection.execute(
                        "select set_config(%s, %s, false)", (name.strip(), value.strip())
                    )
                for name, query in LOOKUPS.items():
                    [[document]] = connection.execute(
                        "explain (analyze, buffers, format json) " + query
                    ).fetchall()
                    plan = document[0]["Plan"]
                    timings.setdefault((name, variant), []).append((
                        document[0]["Execution Time"],
                        plan.get("Shared Hit Blocks", 0),
                        plan.get("Shared Read Blocks", 0),
                    ))  # fmt: skip
                    if number == runs - 1:
                        explain = "explain (analyze, buffers, costs off) " + query
                        rows = connection.execute(explain).fetchall()
                        plans[(name, variant)] = "\n".join(row[0] for row in rows)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| look-up | variant | median ms | runs ms | shared hit | shared read |")
    print("|---|---|---:|---|---:|---:|")
    for (name, variant), values in timings.items():
        print(f"| {name} | {variant} | {statistics.median(value[0] for value in values):.1f} | "
              f"{', '.join(f'{value[0]:.1f}' for value in values)} | {values[-1][1]} | "
              f"{values[-1][2]} |")  # fmt: skip
    for (name, variant), text in plans.items():
        print(f"\n{name}, {variant}:\n{text}")


def retention(server: Server, runs: int) -> None:
    """Each retention step on a fresh copy of its variant, interleaved."""
    results: dict[str, list[dict[str, float]]] = {}
    names = list(RETENTION)
    for number in range(runs):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            variant, steps = RETENTION[name]
            server.copy_database("part_run", f"part_{variant}")
            with server.connect("part_run") as connection:
                connection.execute("checkpoint")
                for label, statement in steps:
                    results.setdefault(f"{name}: {label}", []).append(
                        measured(server, lambda s=statement: connection.execute(s)))  # fmt: skip
    server.drop_database("part_run")
    print_table(results, None, digits=3)


def prepare_larger(server: Server) -> None:
    """A history three times as long: the flat and start_time variants with two more copies of
    every version under other task ids (and other source lines, the batch-line key)."""
    for variant in LARGER_VARIANTS:
        name = f"part_{variant}{LARGER}"
        server.copy_database(name, f"part_{variant}")
        with server.connect(name) as connection:
            connection.execute(
                f"insert into raw.task_executions select md5(id::text || copy_number)::uuid, "
                f"{', '.join(COLUMNS.split(', ')[1:])}, _loaded_at, _batch_id, _source_file, "
                "_source_line + copy_number * 10000000 from raw.task_executions, "
                "generate_series(1, 2) as copies (copy_number) order by _batch_id, _source_line"
            )
            connection.execute("reindex table raw.task_executions")
            connection.execute("vacuum analyze raw.task_executions")
        print(f"{name} ready")


def drop(server: Server) -> None:
    names = [f"part_{v}{e}" for v in VARIANTS for e in ("", "_e")]
    names += [f"part_{v}{LARGER}" for v in LARGER_VARIANTS]
    for name in [BASE, *names, "part_run"]:
        server.drop_database(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("prepare", "prepare-larger", "load", "lookups",
                                         "retention", "drop"))  # fmt: skip
    parser.add_argument("--larger", action="store_true",
                        help="load: into the 9 M-version tables of prepare-larger")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="lookups: a setting for their sessions (e.g. random_page_cost=1.1)",
    )
    args = parser.parse_args(argv)
    server = Server()
    if args.step == "prepare":
        prepare(server, args.csv)
    elif args.step == "prepare-larger":
        prepare_larger(server)
    elif args.step == "load":
        load(server, args.csv, args.runs, larger=args.larger)
    elif args.step == "lookups":
        lookups(server, args.runs, args.set)
    elif args.step == "retention":
        retention(server, args.runs)
    else:
        drop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
