"""Time the warehouse at the specification's scale: generate, load, build, refresh, query, store.

Builds a dataset of ``BENCH_TASKS`` task executions (default 10 million) inside a scratch
database on the warehouse's server (see ``scale_dataset.py``), then measures, each step with its
exact command: the generation itself, the loader against ``psql \\copy``, single-row inserts,
the first ``dbt build`` and ``dbt run``, dbt's start-up, one more day of data built
incrementally, the hourly status refresh, the specification's dashboard queries under 8
concurrent clients (pgbench), and the storage per task. Then the live layer (docs/live.md): the
live metrics' dashboard queries under 8 clients of a reader login while micro-batches of new
tasks land, and the time from a landing's commit to the live view and to the marts (the
incremental build the near-real-time sensor starts). Last, faults under load: micro-batches
of new tasks landing while a ``dbt build`` runs (versions per second, and nothing lost after the
next build, counted), a ``dbt build`` killed with SIGKILL and run again against an uninterrupted
build of a copy of the database, and a ``warehouse load`` killed mid-file and run again. Writes
the results as a section of docs/benchmarks.md (replacing that section on a rerun) and a row per
scale in docs/scaling.md.

    make bench                                   # 10 M tasks
    BENCH_TASKS=1000000 make bench               # 1 M tasks, well under 20 minutes

Every phase has a timeout (``BENCH_PHASE_TIMEOUT`` seconds; default 1200, and 3600 at 10 M
tasks): a phase that runs longer is stopped, reported as "did not finish in N s", and the
next phase runs where it can.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks import scale_dataset
from benchmarks.bench_report import LIVE_PEAK_FACTOR, write_curves, write_report
from benchmarks.micro_batches import MicroBatch, MicroBatchWriter
from benchmarks.scale_dataset import Plan
from warehouse import postgres, settings
from warehouse.faults import (
    PAUSE_LOCK,
    advisory_waiters,
    pause_copy_at,
    table_checksum,
    wait_for_backends_to_end,
    wait_until,
)
from warehouse.ingest.contract import TABLES, TASK_TYPES
from warehouse.ingest.loader import BatchResult, load_paths
from warehouse.ingest.migrations import apply_migrations

PROJECT_ROOT = settings.PROJECT_ROOT
BIN = Path(sys.executable).parent
DBT_SCHEMAS = ("staging", "analytics", "monitoring")
LOADER_SINGLE_RUN_ROWS = 500_000  # from this size the loader runs once
INCREMENT_COMMANDS = ("build", "run")  # one new day each
FAULTS = "faults"  # the section of the faults-under-load phase
MICRO_BATCH_TARGET = 5000  # task versions per second, landed while a dbt build runs
LIVE = "live"  # the section of the live layer's phase
LIVE_METRICS = ("live_savings_today", "live_last_five_minutes")  # docs/live.md's dashboards
CACHED = "_cached"  # the cached summaries' suffix, measured when they exist
LIVE_P95_TARGET_MS = 10
POLL_SECONDS = 0.05  # how often the landing-to-live step looks for a landed task
# The lines of dbt's output that end a node (model, seed, snapshot or test): "3 of 187 OK ...".
FINISHED_NODE = re.compile(r"\b(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP)\b")
RECONCILE = """
    select
        (select count(distinct id) from raw.task_executions),
        (select count(*) from analytics.task_executions),
        (select count(*) from monitoring.quarantined_task_executions),
        (select count(*) from raw.rejected_rows where table_name = 'task_executions'),
        (select coalesce(sum(abs(raw_vs_mart_task_difference)), 0)
         from monitoring.reconciliation_daily)
"""
# A quick run (the test suite's) leaves out the steps that only repeat a dbt start-up.
QUICK_SKIPS = (
    "dbt start-up (no-op)", "dbt debug", "in-process start-up", "first dbt run",
    "incremental dbt run",
)  # fmt: skip


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def default_phase_timeout(tasks: int) -> int:
    return max(1200, round(3600 * tasks / 10_000_000))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=_env_int("BENCH_TASKS", 10_000_000))
    parser.add_argument("--days", type=int, default=_env_int("BENCH_DAYS", 90))
    parser.add_argument("--seed", type=int, default=_env_int("BENCH_SEED", 42))
    parser.add_argument(
        "--until",
        type=datetime.fromisoformat,
        default=None,
        help="end of the generated data (default: the last full hour, minus one hour)",
    )
    parser.add_argument("--runs", type=int, default=_env_int("BENCH_RUNS", 3),
                        help="runs of each cheap step (the median is reported)")  # fmt: skip
    parser.add_argument("--phase-timeout", type=int,
                        default=_env_int("BENCH_PHASE_TIMEOUT", 0),
                        help="seconds a phase may take (default: 1200, and 3600 per 10 M "
                             "tasks above 3.3 M: a first build of 10 M takes about 1,300 s "
                             "on 2 cores)")  # fmt: skip
    parser.add_argument("--generate-timeout", type=int,
                        default=_env_int("BENCH_GENERATE_TIMEOUT", 0),
                        help="seconds the base data may take (0: no limit; every later phase "
                             "needs it, and its progress is printed)")  # fmt: skip
    parser.add_argument("--load-rows", type=int, default=_env_int("BENCH_LOAD_ROWS", 1_000_000))
    parser.add_argument("--inserts", type=int, default=_env_int("BENCH_INSERTS", 2000))
    parser.add_argument("--micro-batch-tasks", type=int,
                        default=_env_int("BENCH_MICRO_BATCH_TASKS", 1700),
                        help="new tasks per micro-batch of the faults phase (1,700: about "
                             "5,000 task versions)")  # fmt: skip
    parser.add_argument("--micro-batch-interval", type=float, default=0.0,
                        help="seconds between two of the faults phase's micro-batches (default "
                             "0: one after the other, as fast as they load)")  # fmt: skip
    parser.add_argument("--live-tasks-per-second", type=float,
                        default=float(os.environ.get("BENCH_LIVE_TASKS_PER_SECOND", 0)),
                        help="the live phase's landing rate (default 0: the volume's average "
                             f"rate, --tasks over --days, times {LIVE_PEAK_FACTOR})")  # fmt: skip
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--api-requests", type=int, default=_env_int("BENCH_API_REQUESTS", 1000),
                        help="requests per API endpoint, cache mode and client count")  # fmt: skip
    parser.add_argument("--dashboard-runs", type=int,
                        default=_env_int("BENCH_DASHBOARD_RUNS", 20),
                        help="timed switches to each dashboard page, per role")  # fmt: skip
    parser.add_argument("--pgbench-seconds", type=int,
                        default=_env_int("BENCH_PGBENCH_SECONDS", 15))  # fmt: skip
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE",
                                                             "warehouse_bench_scale"))  # fmt: skip
    parser.add_argument("--report", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--curves", type=Path, default=PROJECT_ROOT / "docs" / "scaling.md")
    parser.add_argument("--command", default=None, help="the command to print in the report")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--build-only", action="store_true",
                        help="generate the data and run the first dbt build, then stop: the "
                             "database is kept and no report written (to measure something "
                             "else at this volume: PGDATABASE=<it> make bench-api)")  # fmt: skip
    parser.add_argument("--live-only", action="store_true",
                        help="on the database a --build-only run kept (--database): an "
                             "incremental `dbt run` with this checkout's models, then the live "
                             "phase alone; its section is printed, no report written, the "
                             "database kept")  # fmt: skip
    skips = ", ".join(QUICK_SKIPS)
    parser.add_argument("--quick", action="store_true",
                        help=f"skip {skips} (for the test suite)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.until is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        args.until = now - timedelta(hours=1)
    elif args.until.tzinfo is None:
        args.until = args.until.replace(tzinfo=UTC)
    if args.tasks < args.days:
        parser.error("--tasks must be at least --days")
    if args.phase_timeout <= 0:
        args.phase_timeout = default_phase_timeout(args.tasks)
    if args.micro_batch_tasks < 1:
        parser.error("--micro-batch-tasks must be at least 1")
    if args.live_tasks_per_second < 0:
        parser.error("--live-tasks-per-second must not be negative")
    if not args.live_tasks_per_second:
        args.live_tasks_per_second = args.tasks / (args.days * 86_400) * LIVE_PEAK_FACTOR
    return args


# ---------------------------------------------------------------------- measurements


@dataclass
class Step:
    """One measured step: its runs' seconds (empty when it did not finish) and what to say."""

    section: str
    name: str
    command: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""
    outcome: str = "ok"  # ok | timeout | failed | skipped

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


@dataclass
class Results:
    args: argparse.Namespace
    plan: Plan
    started_at: datetime
    dataset: str = ""
    steps: list[Step] = field(default_factory=list)
    latencies: list[dict] = field(default_factory=list)
    storage: list[dict] = field(default_factory=list)
    compared: list[dict] = field(default_factory=list)  # marts: killed build against not
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def step(self, name: str) -> Step | None:
        return next((step for step in self.steps if step.name == name), None)


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def log(self, phase: str, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:8.1f} s] {phase}: {message}", flush=True)


class PhaseTimeoutError(Exception):
    pass


@dataclass
class Outcome:
    seconds: float
    returncode: int | None  # None: stopped at the timeout
    output: str


def run_command(
    args: Sequence[str],
    env: dict[str, str],
    timeout: float,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Outcome:
    """Run a command in a process group of its own; stop the group at the timeout (with
    ``stop_signal``, then SIGKILL if it is still running 30 s later)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(args), env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, stop_signal)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        return Outcome(time.perf_counter() - started, None, output)
    return Outcome(time.perf_counter() - started, process.returncode, output)


def tool(name: str) -> str:
    """A PostgreSQL client program: the embedded server's own, else one on the system."""
    import pgserver  # the wheel ships the binaries of its PostgreSQL

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    if bundled.exists():
        return str(bundled)
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise FileNotFoundError(f"{name} not found (pgserver's binaries or postgresql-client)")
    return str(found)


# ---------------------------------------------------------------------- the harness


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.increment_commands = INCREMENT_COMMANDS[:1] if args.quick else INCREMENT_COMMANDS
        self.plan = Plan(args.tasks, args.days, len(self.increment_commands), args.seed, args.until)
        self.clock = Clock()
        self.results = Results(args, self.plan, datetime.now(UTC))
        self.database = args.database
        self.load_database = f"{args.database}_load"
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        self.server = postgres.up()
        self.reference: scale_dataset.Reference | None = None
        self.generated_windows = 0
        self.load_csv: Path | None = None  # the load phase's file, loaded again by the faults
        self.micro_batches = 0  # micro-batch files written so far (their numbers)

    # ------------------------------------------------------------------ plumbing
    def env(self, database: str, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.server.as_env())
        env["PGDATABASE"] = database
        env.setdefault("DBT_PROFILES_DIR", str(settings.profiles_dir()))
        env.setdefault("DBT_TARGET_PATH", str(self.scratch / "dbt-target"))
        env.setdefault("DBT_LOG_PATH", str(self.scratch / "dbt-logs"))
        env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        # A stopped client's query stops too (the server checks the socket every second).
        env["PGOPTIONS"] = "-c client_connection_check_interval=1000"
        env.update(extra)
        return env

    def connect(self, database: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host=self.server.host, port=self.server.port, user=self.server.user,
            dbname=database or self.database, autocommit=True,
        )  # fmt: skip

    def recreate(self, database: str) -> None:
        with self.connect("postgres") as admin:
            name = sql.Identifier(database)
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))
            admin.execute(sql.SQL("create database {}").format(name))
        with self.connect(database) as connection:
            apply_migrations(connection)

    def drop(self, database: str) -> None:
        with self.connect("postgres") as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )

    def stop_backends(self, database: str) -> None:
        """After a stopped phase: end the server sessions its commands left on the database."""
        with self.connect("postgres") as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = %s and pid <> pg_backend_pid()",
                (database,),
            )

    def timed(
        self,
        step: Step,
        args: Sequence[str],
        *,
        database: str | None = None,
        runs: int = 1,
        before_each: Callable[[], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> list[Outcome]:
        """Run a command ``runs`` times; record each run's seconds, or why it stopped."""
        outcomes = []
        database = database or self.database
        for number in range(1, runs + 1):
            if before_each is not None:
                before_each()
            outcome = run_command(args, env or self.env(database), self.args.phase_timeout)
            outcomes.append(outcome)
            if outcome.returncode is None:
                step.outcome = "timeout"
                step.note = f"did not finish in {self.args.phase_timeout} s"
                self.stop_backends(database)
                self.clock.log(step.section, f"{step.name}: {step.note}")
                break
            if outcome.returncode != 0:
                step.outcome = "failed"
                last = [line for line in outcome.output.strip().splitlines() if line.strip()]
                step.note = f"failed (exit {outcome.returncode}): " + (last[-1] if last else "")
                self.clock.log(step.section, f"{step.name}: {step.note}")
                print("\n".join(last[-25:]), flush=True)
                break
            step.seconds.append(outcome.seconds)
            self.clock.log(
                step.section, f"{step.name}: run {number}/{runs} {outcome.seconds:.1f} s"
            )
        return outcomes

    # ------------------------------------------------------------------ phases
    def run(self) -> Results:
        args = self.args
        self.results.facts["load_average_start"] = os.getloadavg()
        if args.live_only:
            return self.live_only()
        self.clock.log("setup", f"scratch databases {self.database}, {self.load_database}")
        self.recreate(self.database)
        self.recreate(self.load_database)
        os.environ["PGDATABASE"] = self.database
        try:
            if not self.generate():
                return self.results
            if args.build_only:
                self.first_build()
                return self.results
            self.load()
            self.dbt_startup()
            built = self.first_build()
            if built:
                self.increments()
                self.hourly()
            else:
                reason = "skipped: the first dbt build did not finish, nothing to build on"
                for name in ("incremental dbt build and run", "hourly status refresh"):
                    self.results.add(Step("dbt", name, "-", outcome="skipped", note=reason))
            self.dashboards()
            self.api()
            self.dashboard_pages()
            self.storage()
            self.single_row_inserts()
            self.live(built)  # after the phases that measure the data as generated
            self.faults(built)  # last: it adds tasks, which the phases above must not see
        finally:
            self.results.facts["finished_at"] = datetime.now(UTC)
            self.results.facts["load_average_end"] = os.getloadavg()
            try:
                if not args.build_only:
                    self.report()
            finally:
                if not args.keep:
                    self.drop(self.load_database)
                    if not args.build_only:  # --build-only keeps the database it built
                        self.drop(self.database)
                shutil.rmtree(self.scratch, ignore_errors=True)
        return self.results

    def live_only(self) -> Results:
        """The live phase on a kept --build-only database: its marts first brought up to this
        checkout's models (the live store, say) by an incremental `dbt run`; the section is
        printed. The live phase's tasks stay in the database (the next run builds them)."""
        from benchmarks.bench_report import _live

        os.environ["PGDATABASE"] = self.database
        self.generated_windows = self.plan.days
        try:
            command, shown = self.dbt("run", as_of=self.fault_as_of)
            step = self.results.add(Step(LIVE, "catch up: incremental dbt run", shown))
            self.timed(step, command)
            if step.outcome == "ok":
                self.live(True)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
        print("\n".join(_live(self.results)), flush=True)
        return self.results

    def generate(self) -> bool:
        """Reference data and the base windows; False when it did not finish in time."""
        section, plan = "generate", self.plan
        step = self.results.add(
            Step(section, "generate the base data (SQL, one transaction per window)",
                 "benchmarks/bench_scale.py (scale_dataset.generate_windows)")
        )  # fmt: skip
        started = time.perf_counter()
        with self.connect() as connection:
            self.skip_row_triggers(connection)
            self.reference = scale_dataset.write_reference(connection, plan)
            self.results.dataset = scale_dataset.describe(plan, self.reference)
            self.clock.log(section, self.results.dataset)
            totals = {"tasks": 0, "task_versions": 0, "routing_decisions": 0}
            report_every = max(1, plan.days // 10)

            def progress(counts: scale_dataset.WindowCounts) -> None:
                totals["tasks"] += counts.tasks
                totals["task_versions"] += counts.task_versions
                totals["routing_decisions"] += counts.routing_decisions
                elapsed = time.perf_counter() - started
                if (counts.window + 1) % report_every == 0 or counts.window + 1 == plan.days:
                    left = elapsed / totals["tasks"] * (plan.tasks - totals["tasks"])
                    self.clock.log(
                        section,
                        f"window {counts.window + 1}/{plan.days}: {totals['tasks']:,} tasks, "
                        f"{totals['task_versions']:,} versions, "
                        f"{totals['routing_decisions']:,} routing decisions; "
                        f"about {left:,.0f} s to go",
                    )
                if 0 < self.args.generate_timeout < elapsed:
                    raise PhaseTimeoutError

            try:
                scale_dataset.generate_windows(
                    connection, plan, self.reference, range(plan.days), on_window=progress
                )
            except PhaseTimeoutError:
                step.outcome = "timeout"
                done = totals["tasks"]
                step.note = (f"did not finish in {self.args.generate_timeout} s "
                             f"({done:,} tasks generated); nothing else measured")  # fmt: skip
                self.clock.log(section, step.note)
                return False
            seconds = time.perf_counter() - started
            self.generated_windows = plan.days
            rows = totals["task_versions"] + totals["routing_decisions"]
            step.seconds.append(seconds)
            step.note = (f"{rows:,} rows ({totals['task_versions']:,} task versions, "
                         f"{totals['routing_decisions']:,} routing decisions), "
                         f"{rows / seconds:,.0f} rows/s, "
                         f"{totals['tasks'] / seconds:,.0f} tasks/s")  # fmt: skip
            self.results.facts["base_rows"] = rows
            rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.results.facts["generation_rss_mib"] = rss_kib / 1024
            self.clock.log(section, f"{step.note}; peak RSS {rss_kib / 1024:.0f} MiB")
            analyze = self.results.add(
                Step(section, "vacuum analyze the raw tables",
                     "vacuum analyze raw.task_executions, raw.routing_decisions")
            )  # fmt: skip
            started = time.perf_counter()
            connection.execute("vacuum analyze raw.task_executions, raw.routing_decisions")
            analyze.seconds.append(time.perf_counter() - started)
            analyze.note = "what autovacuum would do after the bulk insert"
            self.clock.log(section, f"vacuum analyze {analyze.seconds[0]:.1f} s")
        return True

    def skip_row_triggers(self, connection: psycopg.Connection) -> None:
        """No per-row foreign-key checks while generating (the batch ids are valid by
        construction); a role that may not do this generates with the checks."""
        try:
            connection.execute("set session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            self.clock.log("generate", "not a superuser: foreign keys checked row by row")

    def load(self) -> None:
        section, args = "load", self.args
        csv_path = self.scratch / "task_executions__bench.csv"
        self.load_csv = csv_path
        columns = ", ".join(TABLES["task_executions"].column_names)
        export = self.results.add(
            Step(section, "export task versions to CSV",
                 f"copy (select {columns} from raw.task_executions order by _batch_id, "
                 f"_source_line limit {args.load_rows}) to stdout with (format csv, header)")
        )  # fmt: skip
        started = time.perf_counter()
        with self.connect() as connection, open(csv_path, "wb") as handle:
            statement = (
                f"copy (select {columns} from raw.task_executions order by _batch_id, "
                f"_source_line limit {int(args.load_rows)}) to stdout with (format csv, header)"
            )
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for chunk in copy:
                    handle.write(chunk)
        export.seconds.append(time.perf_counter() - started)
        with open(csv_path, "rb") as handle:
            rows = sum(1 for _ in handle) - 1
        size = csv_path.stat().st_size
        export.note = f"{rows:,} rows, {size / 1e6:,.0f} MB"
        self.results.facts["load_rows"] = rows
        self.clock.log(section, f"exported {export.note} in {export.seconds[0]:.1f} s")

        def empty_raw() -> None:
            with self.connect(self.load_database) as connection:
                connection.execute(
                    "truncate raw.task_executions, raw.rejected_rows, raw.load_batches cascade"
                )

        loader = self.results.add(
            Step(section, "warehouse load (COPY, typing, sanitizing; indexed raw table)",
                 f"PGDATABASE={self.load_database} .venv/bin/warehouse load {csv_path.name}")
        )  # fmt: skip
        loader_runs = 1 if rows >= LOADER_SINGLE_RUN_ROWS else args.runs  # not cheap
        load_command = [str(BIN / "warehouse"), "load", str(csv_path)]
        self.timed(loader, load_command, database=self.load_database, runs=loader_runs,
                   before_each=empty_raw)  # fmt: skip
        if loader.outcome == "ok":
            with self.connect(self.load_database) as connection:
                loaded, rejected = connection.execute(
                    "select sum(rows_loaded), sum(rows_rejected) from raw.load_batches"
                ).fetchone()
            loader.note = (
                f"{rows / loader.median:,.0f} rows/s; {loaded:,} loaded, {rejected} rejected"
            )

        with self.connect(self.load_database) as connection:
            connection.execute("create schema if not exists bench")
            connection.execute(
                f"create table bench.copy_target as select {columns} "
                "from raw.task_executions with no data"
            )

        def empty_target() -> None:
            with self.connect(self.load_database) as connection:
                connection.execute("truncate bench.copy_target")

        copy_command = (f"\\copy bench.copy_target from '{csv_path}' "
                        "with (format csv, header)")  # fmt: skip
        psql = self.results.add(
            Step(section, "psql \\copy (same file, unindexed table of the same columns)",
                 f"PGDATABASE={self.load_database} psql -X -c \"\\copy bench.copy_target "
                 f"from '{csv_path.name}' with (format csv, header)\"")
        )  # fmt: skip
        psql_command = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copy_command]
        self.timed(psql, psql_command, database=self.load_database, runs=args.runs,
                   before_each=empty_target)  # fmt: skip
        if psql.outcome == "ok":
            psql.note = f"{rows / psql.median:,.0f} rows/s"
            if loader.outcome == "ok":
                ratio = loader.median / psql.median
                self.results.facts["load_ratio"] = ratio
                psql.note += f"; warehouse load takes {ratio:.1f}x as long"

    def dbt(self, *args: str, as_of: datetime | None = None) -> tuple[list[str], str]:
        """The dbt command line, and how the report shows it. The build's point in time goes
        to dbt as WAREHOUSE_AS_OF, as the Dagster jobs give it (a new --vars would make dbt
        parse the whole project again)."""
        full = [str(BIN / "dbt"), *args]
        shown = f"PGDATABASE={self.database} .venv/bin/dbt " + " ".join(args)
        if as_of is not None:
            full = ["env", f"WAREHOUSE_AS_OF={as_of.isoformat()}", *full]
            shown = f"WAREHOUSE_AS_OF={as_of.isoformat()} {shown}"
        return full, shown

    def dbt_startup(self) -> None:
        section = "dbt"
        if self.args.quick:
            self.skipped(section, *QUICK_SKIPS[:3])
            return
        parse, _ = self.dbt("parse")
        self.clock.log(section, "dbt parse (once, so that later commands parse partially)")
        run_command(parse, self.env(self.database), self.args.phase_timeout)
        noop, shown = self.dbt("run", "--select", "none_such")
        step = self.results.add(Step(section, "dbt start-up: a no-op command", shown))
        self.timed(step, noop, runs=self.args.runs)
        if step.outcome == "ok":
            step.note = "parse (partial), connect, on-run-start hooks, nothing selected"
        debug, shown = self.dbt("debug")
        step = self.results.add(Step(section, "dbt debug", shown))
        self.timed(step, debug, runs=self.args.runs)
        if step.outcome == "ok":
            step.note = "start-up and a connection test"
        # The in-process runner the demo and the tests use: dbt imported once.
        from warehouse.dbt import run_dbt

        step = self.results.add(
            Step(section, "dbt start-up in-process (dbtRunner, after a first call)",
                 "warehouse.dbt.run_dbt(['run', '--select', 'none_such'])")
        )  # fmt: skip
        env = self.env(self.database)
        keys = ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_SEND_ANONYMOUS_USAGE_STATS")
        saved = {key: os.environ.get(key) for key in keys}
        os.environ.update({key: env[key] for key in keys})
        try:
            for number in range(self.args.runs + 1):
                started = time.perf_counter()
                run_dbt(["run", "--quiet", "--select", "none_such"])
                if number:  # the first call pays the imports
                    step.seconds.append(time.perf_counter() - started)
            step.note = "no process start, imports and adapter already loaded"
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.clock.log(section, f"in-process no-op median {step.median:.1f} s")

    def first_build(self) -> bool:
        """The first ``dbt run`` and ``dbt build`` on empty marts; False when the build failed
        or did not finish."""
        section, as_of = "dbt", self.plan.base_end
        if self.args.quick:
            self.skipped(section, QUICK_SKIPS[3])
        elif not self.args.build_only:
            self.first_run(as_of)
        command, shown = self.dbt("build", as_of=as_of)
        step = self.results.add(
            Step(section, "first dbt build (seeds, models and tests, empty marts)", shown)
        )
        self.timed(step, command)
        if step.outcome == "ok":
            step.note = f"{self.plan.tasks:,} tasks"
        return step.outcome == "ok"

    def first_run(self, as_of: datetime) -> None:
        """``dbt run`` on empty marts; then the dbt schemas are dropped for the first build."""
        section = "dbt"
        seed, _ = self.dbt("seed", "--quiet")
        self.clock.log(section, "dbt seed (the catalogues) before the first dbt run")
        run_command(seed, self.env(self.database), self.args.phase_timeout)
        command, shown = self.dbt("run", as_of=as_of)
        step = self.results.add(Step(section, "first dbt run (models only, empty marts)", shown))
        self.timed(step, command)
        if step.outcome == "ok":
            step.note = f"{self.plan.tasks:,} tasks"
        with self.connect() as connection:
            connection.execute(
                sql.SQL("drop schema if exists {} cascade").format(
                    sql.SQL(", ").join(map(sql.Identifier, DBT_SCHEMAS))
                )
            )
        self.clock.log(section, f"dropped schemas {', '.join(DBT_SCHEMAS)} for the first build")

    def skipped(self, section: str, *names: str) -> None:
        for name in names:
            self.results.add(
                Step(section, name, "-", outcome="skipped", note="skipped in a quick run")
            )

    def increments(self) -> None:
        plan = self.plan
        for offset, verb in enumerate(self.increment_commands):
            window = plan.days + offset
            generate = self.results.add(
                Step("generate", f"generate one more day (window {window + 1})",
                     "benchmarks/bench_scale.py (scale_dataset.generate_windows)")
            )  # fmt: skip
            started = time.perf_counter()
            with self.connect() as connection:
                self.skip_row_triggers(connection)
                [counts] = scale_dataset.generate_windows(
                    connection, plan, self.reference, range(window, window + 1)
                )
            self.generated_windows = window + 1
            generate.seconds.append(time.perf_counter() - started)
            generate.note = (f"{counts.tasks:,} tasks, {counts.task_versions:,} task versions, "
                             f"{counts.routing_decisions:,} routing decisions")  # fmt: skip
            self.clock.log("generate", generate.note)
            command, shown = self.dbt(verb, as_of=plan.window_end(window))
            step = self.results.add(
                Step("dbt", f"incremental dbt {verb} after one more day", shown)
            )
            self.timed(step, command)
            if step.outcome == "ok":
                step.note = f"{counts.tasks:,} new tasks on {plan.total_tasks(window):,}"

        if self.args.quick:
            self.skipped("dbt", QUICK_SKIPS[4])

    def hourly(self) -> None:
        as_of = self.plan.until + timedelta(hours=1)
        command, shown = self.dbt("build", "--select", "tag:hourly+", as_of=as_of)
        step = self.results.add(
            Step("dbt", "hourly status refresh (tag:hourly+, one hour later)", shown)
        )
        self.timed(step, command)
        if step.outcome == "ok":
            step.note = "no new data; status moves with as_of"

    def dashboards(self) -> None:
        """The spec's queries 3.1-3.4, verbatim, by 8 clients for a while each (pgbench)."""
        from tests.test_spec_queries import SPEC_3_1, SPEC_3_2, SPEC_3_3, SPEC_3_4

        args, section = self.args, "dashboards"
        with self.connect() as connection:
            try:
                organizations = [row[0] for row in connection.execute(
                    "select id from analytics.organizations order by id"
                )]  # fmt: skip
            except psycopg.errors.UndefinedTable:
                organizations = []
        if not organizations:
            self.results.add(Step(section, "dashboard queries", "pgbench", outcome="skipped",
                                  note="no marts to query"))  # fmt: skip
            return
        organizations = organizations[:: max(1, len(organizations) // 100)][:100]
        task_types = list(TASK_TYPES)
        queries = {
            "3.1 organization cost dashboard": (SPEC_3_1, organizations, "organization_analytics"),
            "3.2 real-time savings counter": (SPEC_3_2, organizations, "task_executions"),
            "3.3 provider performance comparison": (
                SPEC_3_3, task_types, "provider_performance_metrics"),
            "3.4 team productivity report": (SPEC_3_4, organizations, "user_analytics"),
        }  # fmt: skip
        pgbench = tool("pgbench")
        for label, (text, values, mart) in queries.items():
            with self.connect() as connection:
                built = connection.execute(
                    "select to_regclass(%s) is not null", (f"analytics.{mart}",)
                ).fetchone()[0]
            if not built:
                note = f"skipped: analytics.{mart} was not built"
                self.results.add(Step(section, label, "-", outcome="skipped", note=note))
                self.clock.log(section, f"{label}: {note}")
                continue
            folder = self.scratch / f"pgbench-{label.split()[0]}"
            folder.mkdir()
            scripts = []
            for number, value in enumerate(values):
                script = folder / f"{number}.sql"
                script.write_text(text.strip().replace("$1", f"'{value}'") + "\n")
                scripts.append(script)
            command = [pgbench, "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2",
                       "-T", str(args.pgbench_seconds), "-l", "--log-prefix",
                       str(folder / "log")]  # fmt: skip
            for script in scripts:
                command += ["-f", str(script)]
            shown = (f"PGOPTIONS='-c search_path=analytics' pgbench -n -M prepared "
                     f"-c {args.clients} -j 2 -T {args.pgbench_seconds} -l "
                     f"-f <the spec's query with $1 = one of {len(values)} "
                     f"{'task types' if values is task_types else 'organization ids'}, "
                     f"a script each> {self.database}")  # fmt: skip
            step = self.results.add(Step(section, label, shown))
            env = self.env(self.database, PGOPTIONS="-c search_path=analytics")
            self.timed(step, command, env=env)
            if step.outcome != "ok":
                continue
            latencies = sorted(_pgbench_latencies(folder))
            self.results.latencies.append(
                {
                    "section": section,
                    "query": label,
                    "command": shown,
                    "transactions": len(latencies),
                    "tps": len(latencies) / args.pgbench_seconds,
                    "p50": _percentile(latencies, 50),
                    "p95": _percentile(latencies, 95),
                    "p99": _percentile(latencies, 99),
                }
            )
            self.clock.log(
                section,
                f"{label}: {len(latencies):,} queries, p95 {_percentile(latencies, 95):.1f} ms",
            )

    def api(self) -> None:
        """The reporting API's endpoints (benchmarks/bench_api.py, as `make bench-api`): p50,
        p95 and p99 with 8 and 32 clients, uncached and cached, on this database."""
        from benchmarks.bench_api import NothingToMeasureError, measure_endpoints

        section = "api"
        step = self.results.add(Step(
            section, "reporting API: each endpoint, uncached and cached, 8 and 32 clients",
            f"benchmarks/bench_api.py --requests {self.args.api_requests}",
        ))  # fmt: skip
        folder = self.scratch / "api"
        folder.mkdir()
        measured = self.measured(step, NothingToMeasureError, lambda: measure_endpoints(
            self.args.api_requests, 1, folder, lambda line: self.clock.log(section, line.strip())
        ))  # fmt: skip
        if measured is not None:
            self.results.facts["api"] = measured

    def dashboard_pages(self) -> None:
        """The dashboard's pages in a real browser (benchmarks/bench_dashboard.py, as `make
        bench-dashboard`): each page for one viewer of each role, on this database."""
        from benchmarks.bench_dashboard import NothingToMeasureError, measure_pages

        section = "dashboard pages"
        step = self.results.add(Step(
            section, "dashboard pages: each page for each role, in Chromium",
            f"benchmarks/bench_dashboard.py --runs {self.args.dashboard_runs}",
        ))  # fmt: skip
        rows = self.measured(step, NothingToMeasureError, lambda: measure_pages(
            self.args.dashboard_runs, lambda line: self.clock.log(section, line.strip())
        ))  # fmt: skip
        if rows is not None:
            self.results.facts["dashboard_pages"] = rows

    def measured(self, step: Step, nothing: type[Exception], measure: Callable[[], Any]) -> Any:
        """``measure()``, timed into ``step``; None when there is nothing to measure (the step
        skipped) or it fails (the step failed, with the error: the phases after it still
        run)."""
        started = time.perf_counter()
        try:
            measured = measure()
        except nothing as error:
            step.outcome, step.note = "skipped", f"skipped: {error}"
            return None
        except Exception as error:
            step.outcome, step.note = "failed", f"failed: {type(error).__name__}: {error}"
            self.clock.log(step.section, step.note)
            return None
        step.seconds.append(time.perf_counter() - started)
        return measured

    def storage(self) -> None:
        section = "storage"
        self.clock.log(section, "analyze, then sizes")
        with self.connect() as connection:
            connection.execute("analyze")
            tasks = connection.execute(
                "select count(distinct id) from raw.task_executions"
            ).fetchone()[0]
            self.results.facts["raw_tasks"] = tasks
            rows = connection.execute(
                """
                -- a partitioned table counts with its partitions
                select
                    namespace.nspname, class.relname,
                    sum(greatest(part.reltuples, 0))::bigint,
                    sum(pg_table_size(tree.relid)), sum(pg_indexes_size(tree.relid)),
                    sum(pg_total_relation_size(tree.relid)) as total
                from pg_class as class
                inner join pg_namespace as namespace on class.relnamespace = namespace.oid
                cross join lateral (
                    select tree.relid from pg_partition_tree(class.oid) as tree
                    union select class.oid  -- a plain table has no tree
                ) as tree
                inner join pg_class as part on tree.relid = part.oid
                where namespace.nspname in ('raw', 'staging', 'analytics', 'monitoring')
                    and class.relkind in ('r', 'p', 'm') and not class.relispartition
                group by namespace.nspname, class.relname
                order by total desc
                """
            ).fetchall()
        for schema, name, tuples, table, indexes, total in rows:
            self.results.storage.append(
                {
                    "relation": f"{schema}.{name}",
                    "rows": max(tuples, 0),
                    "table": table,
                    "indexes": indexes,
                    "total": total,
                }
            )
        by_layer: dict[str, int] = {}
        for schema, *_, total in rows:
            by_layer[schema] = by_layer.get(schema, 0) + total
        self.results.facts["bytes_per_task"] = {
            layer: size / tasks for layer, size in by_layer.items() if tasks
        }
        self.clock.log(
            section,
            ", ".join(f"{layer} {size / tasks:,.0f} B/task" for layer, size in by_layer.items()),
        )

    def single_row_inserts(self) -> None:
        """Inserts of one task version each, one transaction each, into the full raw table."""
        args, section = self.args, "inserts"
        with self.connect() as connection:
            organization_id, user_id = connection.execute(
                "select organization_id, user_id from bench.users order by user_number limit 1"
            ).fetchone()
            batch_id = connection.execute(
                "insert into raw.load_batches (table_name, source_file, file_format, "
                "file_checksum, file_bytes, status, started_at) values ('task_executions', "
                "'single-row inserts', 'insert', 'bench-inserts', 0, 'loaded', now()) "
                "returning batch_id"
            ).fetchone()[0]
            # (batch, line) is unique in the raw tables: each insert takes the next line
            connection.execute("create sequence if not exists bench.insert_lines")
        folder = self.scratch / "pgbench-inserts"
        folder.mkdir()
        script = folder / "insert.sql"
        script.write_text(
            "insert into raw.task_executions (id, task_id, user_id, organization_id, task_type, "
            "provider, start_time, status, updated_at, _batch_id, _source_file, _source_line) "
            f"values (gen_random_uuid(), 'TASK-INSERT', '{user_id}', '{organization_id}', "
            f"'bug_fix', 'openai_codex', now(), 'pending', now(), {batch_id}, "
            "'single-row inserts', nextval('bench.insert_lines'));\n"
        )
        command = [tool("pgbench"), "-n", "-c", "1", "-t", str(args.inserts), "-l",
                   "--log-prefix", str(folder / "log"), "-f", str(script)]  # fmt: skip
        shown = (f"pgbench -n -c 1 -t {args.inserts} -l -f insert.sql {self.database} "
                 "(insert into raw.task_executions ... values (...); "
                 "one row, autocommit)")  # fmt: skip
        step = self.results.add(Step(section, "single-row insert into raw.task_executions", shown))
        self.timed(step, command)
        if step.outcome == "ok":
            latencies = sorted(_pgbench_latencies(folder))
            self.results.latencies.append(
                {
                    "section": section,
                    "query": "single-row insert (1 client)",
                    "command": shown,
                    "transactions": len(latencies),
                    "tps": len(latencies) / step.seconds[0],
                    "p50": _percentile(latencies, 50),
                    "p95": _percentile(latencies, 95),
                    "p99": _percentile(latencies, 99),
                }
            )
            step.note = (f"p50 {_percentile(latencies, 50):.2f} ms, "
                         f"p99 {_percentile(latencies, 99):.2f} ms")  # fmt: skip
            self.clock.log(section, step.note)
        with self.connect() as connection:  # leave the dataset as generated
            connection.execute("delete from raw.task_executions where _batch_id = %s", (batch_id,))
            connection.execute("delete from raw.load_batches where batch_id = %s", (batch_id,))
            connection.execute("drop sequence bench.insert_lines")

    # ------------------------------------------------------------------ the live layer
    def live(self, built: bool) -> None:
        """The live layer while micro-batches land: the two live metrics' dashboard queries
        (docs/live.md) by a reader login under pgbench, then the time from a landing's commit
        to the live view and to the marts. Run after the phases that must see the data as
        generated and before the faults; it adds tasks, which the faults phase counts."""
        if not built:
            reason = "skipped: the first dbt build did not finish, nothing to build on"
            self.results.add(Step(LIVE, "live layer", "-", outcome="skipped", note=reason))
            return
        with self.connect() as connection:
            missing = [
                relation for relation in ("live_task_executions", *LIVE_METRICS)
                if connection.execute(
                    "select to_regclass(%s) is null", (f"analytics.{relation}",)
                ).fetchone()[0]
            ]  # fmt: skip
            admins = dict(connection.execute(
                "select distinct on (organization_id) organization_id::text, id::text "
                "from analytics.users where role = 'org_admin' and not is_deleted "
                "order by organization_id, id"
            ).fetchall())  # fmt: skip
        if missing or not admins:
            reason = (f"skipped: analytics.{', analytics.'.join(missing)} not built" if missing
                      else "skipped: no organization admin in analytics.users")  # fmt: skip
            self.results.add(Step(LIVE, "live layer", "-", outcome="skipped", note=reason))
            self.clock.log(LIVE, reason)
            return

        def as_a_reader() -> None:
            with self.reader_login() as login:
                self.part("live metrics under load",
                          lambda: self.live_metrics(admins, login), LIVE)  # fmt: skip
                self.part("landing to the live view",
                          lambda: self.landing_to_live(admins, login), LIVE)  # fmt: skip

        self.part("a reader login", as_a_reader, LIVE)
        self.part("landing to the marts", self.landing_to_marts, LIVE)
        landed = self.results.facts.get("live_landed", {"batches": 0, "versions": 0})
        self.clock.log(LIVE, f"{landed['batches']:,} micro-batches, {landed['versions']:,} "
                             "versions landed in the live phase")  # fmt: skip

    @contextmanager
    def reader_login(self) -> Iterator[dict[str, str]]:
        """A temporary login role in ``analytics_org_admin`` (docs/privacy.md), as the libpq
        variables of a connection; its sessions ended and the role dropped afterwards, also
        on failure. The password is random and never shown."""
        name = f"bench_live_reader_{uuid.uuid4().hex[:8]}"
        password = secrets.token_hex(16)
        with self.connect() as admin:
            try:
                admin.execute(
                    sql.SQL("create role {} login password {} in role analytics_org_admin")
                    .format(sql.Identifier(name), sql.Literal(password))
                )  # fmt: skip
            except psycopg.errors.InsufficientPrivilege as error:
                raise RuntimeError(
                    f"the bench cannot create its reader login ({error}); run it as a role "
                    "with CREATEROLE (PostgreSQL 16: and the admin option on "
                    "analytics_org_admin), such as the build role that made the reader roles"
                ) from error
        try:
            yield {"PGUSER": name, "PGPASSWORD": password}
        finally:
            with self.connect() as admin:
                admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where usename = %s",
                    (name,),
                )
                admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))

    def land_batch(self, connection: psycopg.Connection, writer: MicroBatchWriter) -> None:
        """One micro-batch landed and counted as the live phase's."""
        _, result = self.land(connection, writer)
        self.count_live_landing([result])

    @cached_property
    def live_writer(self) -> tuple[MicroBatchWriter, float]:
        """The live phase's micro-batches: a template of the newest tasks, as many as land in
        a second at --live-tasks-per-second (at least 10, so that one the marts hold is among
        them: ``live_probe``), and the seconds between two."""
        rate = self.args.live_tasks_per_second
        tasks = max(10, round(rate))
        return self.writer_of_newest(tasks, "live"), tasks / rate

    def writer_of_newest(self, tasks: int, name: str) -> MicroBatchWriter:
        """A micro-batch writer whose template is the newest ``tasks`` generated tasks."""
        newest = self.plan.total_tasks(self.generated_windows)
        numbers = range(max(0, newest - tasks), newest)
        with self.connect() as connection:
            return MicroBatchWriter.from_database(
                connection, self.scratch / f"micro-batches-{name}", self.plan.seed, numbers
            )

    def land_backlog(self) -> None:
        """What lands at the live rate in WAREHOUSE_MARTS_MAX_LAG_MINUTES, as one batch: the
        live view's size just before the near-real-time sensor's next build."""
        minutes = settings.marts_max_lag_minutes()
        tasks = max(1, round(self.args.live_tasks_per_second * minutes * 60))
        writer = self.writer_of_newest(tasks, "backlog")
        with self.connect() as connection:
            self.land_batch(connection, writer)
        self.clock.log(LIVE, f"backlog: {writer.tasks:,} tasks ({writer.versions:,} versions), "
                             f"{minutes} minute(s) at {self.args.live_tasks_per_second:,.1f} "
                             "tasks/s, landed before the queries")  # fmt: skip

    def count_live_landing(self, results: Sequence[BatchResult]) -> None:
        landed = self.results.facts.setdefault("live_landed", {"batches": 0, "versions": 0})
        landed["batches"] += len(results)
        landed["versions"] += sum(result.rows_loaded for result in results)

    def live_tasks(self) -> int:
        """Tasks in the live view (as the build role, which sees every row)."""
        with self.connect() as connection:
            return connection.execute(
                "select count(*) from analytics.live_task_executions"
            ).fetchone()[0]

    def live_metrics(self, admins: dict[str, str], login: dict[str, str]) -> None:
        """Each live metric's documented query under pgbench while micro-batches land; the
        cached summaries too when they exist."""
        queries = documented_live_queries()
        self.land_backlog()
        organizations = sorted(admins)
        organizations = organizations[:: max(1, len(organizations) // 100)][:100]
        for relation in (*LIVE_METRICS, *(metric + CACHED for metric in LIVE_METRICS)):
            with self.connect() as connection:
                exists = connection.execute(
                    "select to_regclass(%s) is not null", (f"analytics.{relation}",)
                ).fetchone()[0]
            if not exists:
                note = (f"skipped: analytics.{relation} does not exist (the cached summaries "
                        "are not part of this build)")  # fmt: skip
                self.results.add(Step(LIVE, relation, "-", outcome="skipped", note=note))
                self.clock.log(LIVE, note)
                continue
            metric = relation.removesuffix(CACHED)
            text = re.sub(rf"\banalytics\.{metric}\b", f"analytics.{relation}", queries[metric])
            self.live_latency(relation, text, {org: admins[org] for org in organizations}, login)

    def live_latency(
        self, relation: str, text: str, admins: dict[str, str], login: dict[str, str]
    ) -> None:
        args = self.args
        folder = self.scratch / f"pgbench-{relation}"
        folder.mkdir()
        command = [tool("pgbench"), "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2",
                   "-T", str(args.pgbench_seconds), "-l", "--log-prefix",
                   str(folder / "log")]  # fmt: skip
        for number, (organization, admin) in enumerate(sorted(admins.items())):
            script = folder / f"{number}.sql"
            script.write_text(
                f"set app.user_id = '{admin}';\n"
                + text.strip().replace("$1", f"'{organization}'") + "\n"
            )  # fmt: skip
            command += ["-f", str(script)]
        shown = (f"PGUSER=<a temporary login in analytics_org_admin> pgbench -n -M prepared "
                 f"-c {args.clients} -j 2 -T {args.pgbench_seconds} -l -f <set app.user_id = "
                 f"'<the organization's admin>'; then docs/live.md's query with $1 = that "
                 f"organization; a script each for {len(admins)} organizations> "
                 f"{self.database}")  # fmt: skip
        step = self.results.add(Step(LIVE, relation, shown))
        live_before = self.live_tasks()
        with self.landing(first_before=True, paced=True) as landed:
            self.timed(step, command, env=self.env(self.database, **login))
            during = list(landed)  # the batches committed while pgbench ran (and the first)
        self.count_live_landing([result for _, result in landed])
        live_after = self.live_tasks()
        if step.outcome != "ok":
            return
        latencies = sorted(_pgbench_latencies(folder))
        versions = sum(result.rows_loaded for _, result in during)
        p95 = _percentile(latencies, 95)
        row = {
            "section": LIVE,
            "query": relation,
            "command": shown,
            "transactions": len(latencies),
            "tps": len(latencies) / args.pgbench_seconds,
            "p50": _percentile(latencies, 50),
            "p95": p95,
            "p99": _percentile(latencies, 99),
            "batches": len(during),
            "versions": versions,
            # a load's time (the live store's absorb included): slow loads take the cores
            "load_ms": statistics.median(result.seconds * 1000 for _, result in during),
            "live_tasks": (live_before, live_after),
            "target_ms": LIVE_P95_TARGET_MS,
        }
        self.results.latencies.append(row)
        step.note = (
            f"p95 {p95:.1f} ms, target {LIVE_P95_TARGET_MS} ms: "
            f"{'met' if p95 <= LIVE_P95_TARGET_MS else 'not met'}; {len(during):,} micro-batches "
            f"({versions:,} task versions, {versions / step.median:,.0f}/s) landed meanwhile, "
            f"a load's median time {row['load_ms']:,.0f} ms; "
            f"the live view held {live_before:,} tasks before and {live_after:,} after; each "
            "script sets the identity with `set app.user_id` before the query (a session's "
            "PGOPTIONS cannot differ per organization): that round trip is in the latency"
        )
        self.clock.log(LIVE, f"{relation}: {len(latencies):,} queries, {step.note}")

    @cached_property
    def live_probe(self) -> tuple[str, str]:
        """A task of the live micro-batches' template that the marts hold (so not
        quarantined), and its organization: the task whose copy in each new batch is looked
        for."""
        organizations = self.live_writer[0].template_organizations()
        with self.connect() as connection:
            row = connection.execute(
                "select id::text from analytics.task_executions where id = any(%s::uuid[]) "
                "order by id limit 1",
                (list(organizations),),
            ).fetchone()
        if row is None:
            raise RuntimeError("no task of the micro-batch template is in the task mart")
        return row[0], organizations[row[0]]

    def landing_to_live(self, admins: dict[str, str], login: dict[str, str]) -> None:
        """One micro-batch lands; the reader login polls the live view every 50 ms for one of
        its tasks; the time from the commit to the poll that finds it. --runs times."""
        template_id, organization = self.live_probe
        query = "select 1 from analytics.live_task_executions where id = %s"
        step = self.results.add(
            Step(LIVE, "landing to the live view",
                 "load_paths(connection, [Path('task_executions__micro_<n>.csv')]), then every "
                 f"{POLL_SECONDS * 1000:.0f} ms as the reader login: {query} (one of its tasks)")
        )  # fmt: skip
        polls, live_sizes = [], []
        with (
            self.connect() as loader,
            psycopg.connect(host=self.server.host, port=self.server.port, user=login["PGUSER"],
                            password=login["PGPASSWORD"], dbname=self.database,
                            autocommit=True) as reader,
        ):  # fmt: skip
            reader.execute("select set_config('app.user_id', %s, false)", (admins[organization],))
            for _ in range(self.args.runs):
                self.land_batch(loader, self.live_writer[0])
                committed = time.perf_counter()  # load_paths returns after its commit
                task_id = MicroBatchWriter.task_id(self.micro_batches, template_id)
                poll = 0
                while True:
                    poll += 1
                    polled = time.perf_counter()
                    if reader.execute(query, (task_id,)).fetchone() is not None:
                        break
                    if polled - committed > self.args.phase_timeout:
                        raise RuntimeError(f"task {task_id} not in the live view after "
                                           f"{self.args.phase_timeout} s")  # fmt: skip
                    time.sleep(max(0.0, POLL_SECONDS - (time.perf_counter() - polled)))
                step.seconds.append(time.perf_counter() - committed)
                polls.append(poll)
                live_sizes.append(self.live_tasks())
        step.note = (f"median of {len(step.seconds)}; found at poll {', '.join(map(str, polls))} "
                     f"(1: the first query after the commit); the live view held "
                     f"{', '.join(f'{size:,}' for size in live_sizes)} tasks")  # fmt: skip
        self.clock.log(LIVE, f"landing to live: {step.median * 1000:,.0f} ms; {step.note}")

    def landing_to_marts(self) -> None:
        """One micro-batch lands, then the incremental ``dbt build`` the near-real-time sensor
        would start; the time from the commit to the end of the build that puts one of its
        tasks into analytics.task_executions. --runs times."""
        template_id, _ = self.live_probe
        command, shown = self.dbt("build", as_of=self.fault_as_of)
        step = self.results.add(
            Step(LIVE, "landing to the marts",
                 f"load_paths(connection, [Path('task_executions__micro_<n>.csv')]), then "
                 f"{shown}, then select from analytics.task_executions where id = <one of its "
                 "tasks>")
        )  # fmt: skip
        committed = 0.0
        live_before = self.live_tasks()

        def land_one() -> None:
            nonlocal committed
            with self.connect() as connection:
                self.land_batch(connection, self.live_writer[0])
            committed = time.perf_counter()

        for _ in range(self.args.runs):
            self.timed(step, command, before_each=land_one)
            if step.outcome != "ok":
                return
            task_id = MicroBatchWriter.task_id(self.micro_batches, template_id)
            with self.connect() as connection:
                found = connection.execute(
                    "select 1 from analytics.task_executions where id = %s", (task_id,)
                ).fetchone()
            step.seconds[-1] = time.perf_counter() - committed
            if found is None:
                step.outcome = "failed"
                step.note = f"failed: task {task_id} is not in analytics.task_executions"
                self.clock.log(LIVE, step.note)
                return
        interval = sensor_interval_seconds()
        sensor = (f"its sensor, raw_batches_sensor, is evaluated every {interval} s "
                  "(minimum_interval_seconds), which adds at most that much"
                  if interval is not None else
                  "raw_batches_sensor's interval was not found in orchestration/defs/sensors.py"
                  )  # fmt: skip
        step.note = (
            f"median of {len(step.seconds)}; the first build also took in the "
            f"{live_before:,} tasks landed before (the live view's); {sensor}; the sensor starts "
            "a build only when none is running and the last one started at least "
            f"WAREHOUSE_MARTS_MAX_LAG_MINUTES ({settings.marts_max_lag_minutes()}) ago; the "
            "build runs as of the faults phase's time (the data's end + 1 h), the sensor's as "
            "of now"
        )
        self.clock.log(LIVE, f"landing to marts: {step.median:,.1f} s; {step.note}")

    # ------------------------------------------------------------------ faults under load
    @property
    def fault_as_of(self) -> datetime:
        """The builds of the faults phase run as of the hourly refresh's time."""
        return self.plan.until + timedelta(hours=1)

    def faults(self, built: bool) -> None:
        """Micro-batches landing while a build runs, then counted against the marts; a build
        killed with SIGKILL and run again against one that was not; a load killed mid-file and
        run again. An error stops only its own part (reported with its reason)."""
        on_the_marts = {
            "micro-batches while a dbt build runs": self.micro_batches_under_build,
            "a dbt build killed and run again": self.killed_build,
        }
        for name, run in on_the_marts.items():
            if built:
                self.part(name, run)
            else:
                reason = "skipped: the first dbt build did not finish, nothing to build on"
                self.results.add(Step(FAULTS, name, "-", outcome="skipped", note=reason))
        self.part("a load killed mid-file and run again", self.killed_load)

    def part(self, name: str, run: Callable[[], None], section: str = FAULTS) -> None:
        """Run one part of a phase; an error becomes a failed step of the report."""
        try:
            run()
        except Exception as error:  # reported as a failed step; the next part runs
            traceback.print_exc()
            reason = (str(error).strip().splitlines() or [""])[0]
            step = self.results.add(
                Step(section, f"{name}: stopped by an error", "-", outcome="failed",
                     note=f"failed: {type(error).__name__}: {reason}")
            )  # fmt: skip
            self.clock.log(section, f"{step.name}: {step.note}")

    @cached_property
    def micro_batch_writer(self) -> MicroBatchWriter:
        """The template of every micro-batch: the versions of the newest generated tasks."""
        writer = self.writer_of_newest(self.args.micro_batch_tasks, "faults")
        self.clock.log(FAULTS, f"micro-batch template: the newest {writer.tasks:,} tasks, "
                               f"{writer.versions:,} versions")  # fmt: skip
        return writer

    def land(
        self, connection: psycopg.Connection, writer: MicroBatchWriter | None = None
    ) -> tuple[MicroBatch, BatchResult]:
        """Write the next micro-batch file (of ``writer``'s template, by default the faults
        phase's) and load it (one transaction); the file is removed."""
        self.micro_batches += 1
        batch = (writer or self.micro_batch_writer).write(self.micro_batches)
        try:
            # --live-only, again on the same database, writes the same files: loaded again
            [result] = load_paths(connection, [batch.path], force=self.args.live_only)
        finally:
            batch.path.unlink()
        if result.status != "loaded" or result.rows_read != batch.lines:
            raise RuntimeError(f"{batch.path.name}: {result.status}, {result.rows_read} of "
                               f"{batch.lines} lines read {result.message}")  # fmt: skip
        return batch, result

    @contextmanager
    def landing(
        self, *, first_before: bool = False, paced: bool = False
    ) -> Iterator[list[tuple[MicroBatch, BatchResult]]]:
        """Micro-batches land one after the other in a thread until the block ends (at least
        one, however short the block); the list fills as they commit. ``first_before``: the
        block starts once the first batch has committed. ``paced``: the live phase's batches
        at its rate (``live_writer``), else the faults phase's, one every
        --micro-batch-interval seconds (0: as fast as they load). An error
        of the thread is raised at the end of the block."""
        writer, interval = (
            self.live_writer if paced
            else (self.micro_batch_writer, self.args.micro_batch_interval)
        )  # fmt: skip
        landed: list[tuple[MicroBatch, BatchResult]] = []
        errors: list[Exception] = []
        first_landed, block_ended = threading.Event(), threading.Event()

        def land_until_the_block_ends() -> None:
            try:
                with self.connect() as connection:
                    started = time.perf_counter()
                    while True:
                        landed.append(self.land(connection, writer))
                        first_landed.set()
                        next_one = started + len(landed) * interval
                        if block_ended.wait(max(0.0, next_one - time.perf_counter())):
                            return
            except Exception as error:  # raised again in the main thread
                errors.append(error)
            finally:
                first_landed.set()

        lander = threading.Thread(target=land_until_the_block_ends, name="micro-batches")
        lander.start()
        try:
            if first_before:
                first_landed.wait()
                if errors:
                    raise errors[0]
            yield landed
        finally:
            block_ended.set()
            lander.join()
        if errors:
            raise errors[0]

    def micro_batches_under_build(self) -> None:
        """From the start of a ``dbt build`` to its end, micro-batches land one after the
        other; the next build takes in those committed after the first took its horizon; then
        raw is counted against the marts."""
        writer = self.micro_batch_writer
        command, shown = self.dbt("build", as_of=self.fault_as_of)
        build = self.results.add(Step(FAULTS, "dbt build while micro-batches land", shown))
        landing = self.results.add(
            Step(FAULTS, "micro-batches landed while that build ran",
                 "warehouse.ingest.loader.load_paths(connection, "
                 "[Path('task_executions__micro_<n>.csv')]), one file after the other")
        )  # fmt: skip
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        with self.landing() as landed:
            self.timed(build, command)
        seconds = time.perf_counter() - started
        with self.connect() as connection:
            horizon = connection.execute(
                "select max(batch_id) from raw.batch_horizons where taken_at >= %s", (started_at,)
            ).fetchone()[0]
        in_build = sum(1 for _, result in landed if horizon is not None
                       and result.batch_id <= horizon)  # fmt: skip
        versions = sum(result.rows_loaded for _, result in landed)
        rate = versions / seconds
        landing.seconds.append(seconds)
        verdict = (f"paced at one batch every {self.args.micro_batch_interval:g} s, not a measure"
                   if self.args.micro_batch_interval else
                   f"target {MICRO_BATCH_TARGET:,}: "
                   f"{'met' if rate >= MICRO_BATCH_TARGET else 'not met'}")  # fmt: skip
        landing.note = (
            f"{rate:,.0f} versions/s sustained ({verdict}): {len(landed):,} batches "
            f"of {writer.versions:,} versions ({writer.tasks:,} new tasks) and 1 unparseable line, "
            f"{versions:,} versions in {seconds:.1f} s; {in_build:,} committed before the build "
            f"took its horizon, {len(landed) - in_build:,} after"
        )
        self.clock.log(FAULTS, landing.note)
        if build.outcome == "ok":
            build.note = f"built {in_build:,} of the micro-batches (those before its horizon)"
        self.results.facts["micro_batches"] = {
            "batches": len(landed), "versions": versions, "seconds": seconds, "rate": rate,
            "tasks_per_batch": writer.tasks, "versions_per_batch": writer.versions,
            "build_seconds": build.median, "in_build": in_build, "target": MICRO_BATCH_TARGET,
            "verdict": verdict,
        }  # fmt: skip

        next_build = self.results.add(Step(FAULTS, "the next dbt build", shown))
        self.timed(next_build, command)
        if next_build.outcome == "ok":
            next_build.note = f"builds the other {len(landed) - in_build:,} micro-batches"
        self.reconcile(landed)

    def reconcile(self, landed: list[tuple[MicroBatch, BatchResult]]) -> None:
        """The reconciliation rule (``reconciliation_daily`` checks it per day): distinct
        parseable raw tasks = tasks in the task mart + tasks in quarantine; and every line of
        the micro-batch files is in raw or in raw.rejected_rows."""
        count = self.results.add(
            Step(FAULTS, "count: raw tasks = marts + quarantine, lines = raw + rejected",
                 "count(distinct id) of raw.task_executions against count(*) of "
                 "analytics.task_executions and monitoring.quarantined_task_executions; "
                 "raw.rejected_rows; monitoring.reconciliation_daily")
        )  # fmt: skip
        batch_ids = [result.batch_id for _, result in landed]
        lines = sum(batch.lines for batch, _ in landed)
        started = time.perf_counter()
        with self.connect() as connection:
            raw_tasks, mart_tasks, quarantined, rejected, apart = connection.execute(
                RECONCILE
            ).fetchone()
            stored, stored_rejected = connection.execute(
                "select (select count(*) from raw.task_executions where _batch_id = any(%(ids)s)), "
                "(select count(*) from raw.rejected_rows where batch_id = any(%(ids)s))",
                {"ids": batch_ids},
            ).fetchone()
        count.seconds.append(time.perf_counter() - started)
        reconciled = raw_tasks == mart_tasks + quarantined and apart == 0
        all_lines = stored + stored_rejected == lines
        count.note = (
            f"{raw_tasks:,} distinct parseable raw tasks, {mart_tasks:,} in "
            f"analytics.task_executions + {quarantined:,} in quarantine "
            f"({'reconciled' if reconciled else 'NOT reconciled'}; reconciliation_daily: "
            f"{apart:,} tasks apart); {rejected:,} rows in raw.rejected_rows; the "
            f"{len(landed):,} micro-batch files' {lines:,} lines: {stored:,} versions in raw + "
            f"{stored_rejected:,} rejected rows ({'all there' if all_lines else 'LOST ROWS'})"
        )
        if not (reconciled and all_lines):
            count.outcome = "failed"
            count.note = "failed: " + count.note
        self.results.facts["reconciliation"] = {
            "raw_tasks": raw_tasks, "mart_tasks": mart_tasks, "quarantined": quarantined,
            "rejected": rejected, "apart": apart, "reconciled": reconciled and all_lines,
        }  # fmt: skip
        self.clock.log(FAULTS, count.note)

    def killed_build(self) -> None:
        """About a day of new tasks lands; the database is copied; the copy is built without a
        fault, the original is built, killed at half that time, and built again; every mart
        table of the two is compared. The copy is dropped at the end."""
        if not self.room_for_a_copy():
            return
        writer = self.micro_batch_writer
        batches = max(1, math.ceil(self.plan.tasks_per_increment / writer.tasks))
        land = self.results.add(
            Step(FAULTS, "land new tasks for the killed build",
                 "warehouse.ingest.loader.load_paths(connection, "
                 "[Path('task_executions__micro_<n>.csv')]), one file after the other")
        )  # fmt: skip
        started = time.perf_counter()
        with self.connect() as connection:
            landed = [self.land(connection) for _ in range(batches)]
        land.seconds.append(time.perf_counter() - started)
        land.note = (f"{batches:,} micro-batches: {batches * writer.tasks:,} new tasks (a "
                     f"generated day has {self.plan.tasks_per_increment:,}), "
                     f"{sum(result.rows_loaded for _, result in landed):,} versions")  # fmt: skip

        copy = f"{self.database}_copy"
        create = sql.SQL("create database {} template {} strategy file_copy").format(
            sql.Identifier(copy), sql.Identifier(self.database)
        )
        copying = self.results.add(
            Step(FAULTS, "copy the scratch database",
                 f"create database {copy} template {self.database} strategy file_copy")
        )  # fmt: skip
        self.stop_backends(self.database)  # a template takes no other connection
        started = time.perf_counter()
        with self.connect("postgres") as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(copy))
            )
            admin.execute(create)
            size = admin.execute("select pg_database_size(%s)", (copy,)).fetchone()[0]
        copying.seconds.append(time.perf_counter() - started)
        copying.note = f"{size / 2**30:,.2f} GiB"
        try:
            self.kill_and_compare(copy)
        finally:
            self.drop(copy)

    def room_for_a_copy(self) -> bool:
        """On the embedded server, whether its disk holds a second copy of the scratch
        database and a build of it (a fifth more); a skipped step says what it needs."""
        if not settings.uses_embedded_server():
            return True  # another server's disk is not visible from here: try
        with self.connect() as connection:
            size = connection.execute("select pg_database_size(current_database())").fetchone()[0]
        needed, free = size * 1.2, shutil.disk_usage(settings.embedded_pgdata()).free
        if free >= needed:
            return True
        note = (f"skipped: the copy needs about {needed / 2**30:,.0f} GiB free, the disk has "
                f"{free / 2**30:,.0f} GiB; BENCH_TASKS=1000000 runs it")  # fmt: skip
        self.results.add(Step(FAULTS, "a dbt build killed and run again", "-",
                              outcome="skipped", note=note))  # fmt: skip
        self.clock.log(FAULTS, note)
        return False

    def kill_and_compare(self, copy: str) -> None:
        command, shown = self.dbt("build", as_of=self.fault_as_of)
        uninterrupted = self.results.add(
            Step(FAULTS, "uninterrupted dbt build (on the copy)",
                 shown.replace(f"PGDATABASE={self.database} ", f"PGDATABASE={copy} ", 1))
        )  # fmt: skip
        self.timed(uninterrupted, command, database=copy)
        if uninterrupted.outcome != "ok":
            return
        kill_at = uninterrupted.seconds[0] / 2
        uninterrupted.note = f"the reference; the kill comes at half its time, {kill_at:.1f} s"
        killed = self.results.add(
            Step(FAULTS, "the same build killed with SIGKILL at half that time", shown)
        )
        outcome = run_command(command, self.env(self.database), kill_at, stop_signal=signal.SIGKILL)
        if outcome.returncode is not None:
            killed.outcome = "failed"
            killed.note = (f"failed: the build ended (exit {outcome.returncode}) before the "
                           f"kill at {kill_at:.1f} s")  # fmt: skip
            self.clock.log(FAULTS, killed.note)
            return
        killed.seconds.append(outcome.seconds)
        ended = [(int(done), int(total)) for done, total in FINISHED_NODE.findall(outcome.output)]
        total = max((total for _, total in ended), default=0)
        killed.note = f"killed after {len(ended):,} of {total:,} nodes (seeds, models, tests)"
        self.clock.log(FAULTS, killed.note)
        with self.connect() as connection:
            orphans = [row[0] for row in connection.execute(
                "select pid from pg_stat_activity where datname = current_database() "
                "and backend_type = 'client backend' and pid <> pg_backend_pid()"
            )]  # fmt: skip
            wait_for_backends_to_end(connection, orphans, self.args.phase_timeout)
        rerun = self.results.add(Step(FAULTS, "the killed build run again", shown))
        self.timed(rerun, command)
        if rerun.outcome != "ok":
            return
        rerun.note = "from what the killed build left"
        self.compare_marts(copy)

    def compare_marts(self, copy: str) -> None:
        step = self.results.add(
            Step(FAULTS, "compare every table of analytics and monitoring",
                 "select count(*), sum(hashtextextended(row(<columns>)::text, 0)) from <table>, "
                 "in both databases (built_from_batch_id, built_at, loaded_at and the rollups' "
                 "created_at left out)")
        )  # fmt: skip
        tables = (
            "select schemaname, tablename from pg_tables "
            "where schemaname in ('analytics', 'monitoring')"
        )
        started = time.perf_counter()
        with self.connect(copy) as reference, self.connect() as rebuilt:
            in_reference = set(reference.execute(tables).fetchall())
            in_rebuilt = set(rebuilt.execute(tables).fetchall())
            for schema, table in sorted(in_reference | in_rebuilt):
                expected = (table_checksum(reference, schema, table)
                            if (schema, table) in in_reference else None)  # fmt: skip
                found = (table_checksum(rebuilt, schema, table)
                         if (schema, table) in in_rebuilt else None)  # fmt: skip
                self.results.compared.append(
                    {
                        "table": f"{schema}.{table}",
                        "uninterrupted": expected[0] if expected else None,
                        "rerun": found[0] if found else None,
                        "equal": expected is not None and expected == found,
                    }
                )
        step.seconds.append(time.perf_counter() - started)
        different = [row["table"] for row in self.results.compared if not row["equal"]]
        equal = len(self.results.compared) - len(different)
        step.note = f"{equal} of {len(self.results.compared)} tables equal"
        if different or not self.results.compared:
            step.outcome = "failed"
            step.note = f"failed: {step.note}; different: {', '.join(different) or '-'}"
        self.clock.log(FAULTS, step.note)

    def killed_load(self) -> None:
        """The load phase's file, loaded into the emptied load database: paused at its middle
        line by a trigger (warehouse.faults.pause_copy_at), killed there with SIGKILL, checked
        to have left nothing, then loaded again and checked to be there once."""
        path = self.load_csv
        if path is None or not path.exists():
            raise RuntimeError("the load phase wrote no CSV file")
        rows = self.results.facts["load_rows"]
        line = 2 + rows // 2  # line 1 is the header
        shown = f"PGDATABASE={self.load_database} .venv/bin/warehouse load {path.name}"
        command = [str(BIN / "warehouse"), "load", str(path)]
        killed = self.results.add(
            Step(FAULTS, f"warehouse load killed with SIGKILL at line {line:,} of the file's "
                 f"{rows + 1:,}", shown)
        )  # fmt: skip
        with self.connect(self.load_database) as connection:
            connection.execute(
                "truncate raw.task_executions, raw.rejected_rows, raw.load_batches cascade"
            )
            started = time.perf_counter()
            with (
                pause_copy_at(connection, path, line),
                open(self.scratch / "killed-load.log", "w", encoding="utf-8") as log,
            ):
                loader = subprocess.Popen(
                    command, env=self.env(self.load_database), cwd=PROJECT_ROOT, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
                try:
                    wait_until(
                        lambda: bool(advisory_waiters(connection, PAUSE_LOCK)) or
                        loader.poll() is not None,
                        f"the load reaches line {line:,}",
                        self.args.phase_timeout,
                    )  # fmt: skip
                    if loader.poll() is not None:
                        raise RuntimeError(
                            f"the load ended (exit {loader.returncode}) before line {line:,}"
                        )
                    (backend,) = advisory_waiters(connection, PAUSE_LOCK)
                    progress = connection.execute(
                        "select tuples_processed from pg_stat_progress_copy where pid = %s",
                        (backend,),
                    ).fetchone()
                finally:  # killed here, or before the lock is released on an error
                    if loader.poll() is None:
                        os.killpg(loader.pid, signal.SIGKILL)
                    loader.wait()
                killed.seconds.append(time.perf_counter() - started)
            wait_for_backends_to_end(connection, [backend], self.args.phase_timeout)
            versions, rejected, _, batches = self.landed(connection, path)
        written = f"{progress[0]:,}" if progress else "some"
        killed.note = (f"{written} rows written (uncommitted) when killed; raw holds "
                       f"{versions:,} of its rows, {rejected:,} rejected rows and "
                       f"{len(batches):,} batches of it")  # fmt: skip
        if (versions, rejected, batches) != (0, 0, []):
            killed.outcome = "failed"
            killed.note = "failed: a partial batch remains: " + killed.note
        self.clock.log(FAULTS, killed.note)

        rerun = self.results.add(Step(FAULTS, "the killed load run again", shown))
        self.timed(rerun, command, database=self.load_database)
        if rerun.outcome != "ok":
            return
        with self.connect(self.load_database) as connection:
            versions, rejected, lines, batches = self.landed(connection, path)
        rerun.note = (f"{versions:,} rows and {rejected:,} rejected rows of {rows:,}, {lines:,} "
                      f"distinct lines; batches: {', '.join(batches) or '-'}")  # fmt: skip
        if not (versions == lines and versions + rejected == rows and batches == ["loaded"]):
            rerun.outcome = "failed"
            rerun.note = "failed: not loaded exactly once: " + rerun.note
        else:
            rerun.note = f"each of the {rows:,} rows once: " + rerun.note
        self.clock.log(FAULTS, rerun.note)

    @staticmethod
    def landed(connection: psycopg.Connection, path: Path) -> tuple[int, int, int, list[str]]:
        """What raw holds of one file: its rows, its rejected rows, its distinct lines, and
        the status of its batches."""
        name = str(path)
        versions, lines = connection.execute(
            "select count(*), count(distinct _source_line) from raw.task_executions "
            "where _source_file = %s",
            (name,),
        ).fetchone()
        rejected = connection.execute(
            "select count(*) from raw.rejected_rows where source_file = %s", (name,)
        ).fetchone()[0]
        batches = [row[0] for row in connection.execute(
            "select status from raw.load_batches where source_file = %s order by batch_id",
            (name,),
        )]  # fmt: skip
        return versions, rejected, lines, batches

    def report(self) -> None:
        args = self.args
        with self.connect() as connection:
            version = connection.execute("show server_version").fetchone()[0]
        self.results.facts.update(
            {
                "postgres": version,
                "embedded": settings.uses_embedded_server(),
                "cores": os.cpu_count(),
                "ram_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
                "python": platform.python_version(),
                "final_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "generated_tasks": self.plan.total_tasks(max(self.generated_windows, 1)),
            }
        )
        settings_shown = [
            f"{name}={value}"
            for name, value, default in (
                ("BENCH_TASKS", args.tasks, 10_000_000),
                ("BENCH_DAYS", args.days, 90),
                ("BENCH_RUNS", args.runs, 3),
                ("BENCH_PHASE_TIMEOUT", args.phase_timeout, default_phase_timeout(args.tasks)),
                ("BENCH_LOAD_ROWS", args.load_rows, 1_000_000),
                ("BENCH_MICRO_BATCH_TASKS", args.micro_batch_tasks, 1700),
                ("BENCH_PGBENCH_SECONDS", args.pgbench_seconds, 15),
                (
                    "BENCH_LIVE_TASKS_PER_SECOND",
                    args.live_tasks_per_second,
                    args.tasks / (args.days * 86_400) * LIVE_PEAK_FACTOR,
                ),
            )
            if value != default
        ]
        command = args.command or " ".join([*settings_shown, "make bench"])
        self.results.facts["command"] = command
        write_report(args.report, self.results)
        write_curves(args.curves, self.results)
        self.clock.log("report", f"wrote {args.report} and {args.curves}")


def documented_live_queries() -> dict[str, str]:
    """The dashboard queries of docs/live.md, by the live metric each reads: its ``sql`` blocks
    that select from ``analytics.<metric>`` with a ``$1``."""
    path = PROJECT_ROOT / "docs" / "live.md"
    queries = {}
    for block in re.findall(r"```sql\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL):
        for metric in LIVE_METRICS:
            if re.search(rf"\bfrom analytics\.{metric}\b", block) and "$1" in block:
                queries[metric] = textwrap.dedent(block).strip()
    missing = [metric for metric in LIVE_METRICS if metric not in queries]
    if missing:
        raise ValueError(f"{path}: no sql block selects from analytics.{missing[0]} with $1; "
                         "document the dashboard's query there (section Live metrics)")  # fmt: skip
    return queries


def sensor_interval_seconds(name: str = "raw_batches_sensor") -> int | None:
    """The ``minimum_interval_seconds`` of a sensor of orchestration/defs/sensors.py, read from
    its decorator (without importing Dagster); None when not found."""
    tree = ast.parse((PROJECT_ROOT / "orchestration" / "defs" / "sensors.py").read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for decorator in node.decorator_list:
                for keyword in getattr(decorator, "keywords", []):
                    if keyword.arg == "minimum_interval_seconds":
                        return ast.literal_eval(keyword.value)
    return None


def _pgbench_latencies(folder: Path) -> list[float]:
    """Milliseconds per transaction from pgbench's per-transaction logs (third field, us)."""
    latencies = []
    for log in folder.glob("log.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                latencies.append(int(fields[2]) / 1000)
    return latencies


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(percent / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = Bench(args).run()
    unfinished = [step for step in results.steps if step.outcome != "ok"]
    return 1 if any(step.outcome == "failed" for step in unfinished) else 0


if __name__ == "__main__":
    sys.exit(main())
