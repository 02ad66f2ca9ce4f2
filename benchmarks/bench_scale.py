"""Time the warehouse at the specification's scale: generate, load, build, refresh, query, store.

Builds a dataset of ``BENCH_TASKS`` task executions (default 10 million) inside a scratch
database on the warehouse's server (see ``scale_dataset.py``), then measures, each step with its
exact command: the generation itself, the loader against ``psql \\copy``, single-row inserts,
the first ``dbt build`` and ``dbt run``, dbt's start-up, one more day of data built
incrementally, the hourly status refresh, the specification's dashboard queries under 8
concurrent clients (pgbench), and the storage per task. Writes the results as a section of
docs/benchmarks.md (replacing that section on a rerun) and a row per scale in docs/scaling.md.

    make bench                                   # 10 M tasks
    BENCH_TASKS=1000000 make bench               # 1 M tasks, well under 20 minutes

Every phase has a timeout (``BENCH_PHASE_TIMEOUT`` seconds, default 1200): a phase that runs
longer is stopped, reported as "did not finish in N s", and the next phase runs where it can.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks import scale_dataset
from benchmarks.bench_report import write_curves, write_report
from benchmarks.scale_dataset import Plan
from warehouse import postgres, settings
from warehouse.ingest.contract import TABLES, TASK_TYPES
from warehouse.ingest.migrations import apply_migrations

PROJECT_ROOT = settings.PROJECT_ROOT
BIN = Path(sys.executable).parent
DBT_SCHEMAS = ("staging", "analytics", "monitoring")
LOADER_SINGLE_RUN_ROWS = 500_000  # from this size the loader runs once
INCREMENT_COMMANDS = ("build", "run")  # one new day each
# A quick run (the test suite's) leaves out the steps that only repeat a dbt start-up.
QUICK_SKIPS = (
    "dbt start-up (no-op)", "dbt debug", "in-process start-up", "first dbt run",
    "incremental dbt run",
)  # fmt: skip


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


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
                        default=_env_int("BENCH_PHASE_TIMEOUT", 1200))  # fmt: skip
    parser.add_argument("--generate-timeout", type=int,
                        default=_env_int("BENCH_GENERATE_TIMEOUT", 0),
                        help="seconds the base data may take (0: no limit; every later phase "
                             "needs it, and its progress is printed)")  # fmt: skip
    parser.add_argument("--load-rows", type=int, default=_env_int("BENCH_LOAD_ROWS", 1_000_000))
    parser.add_argument("--inserts", type=int, default=_env_int("BENCH_INSERTS", 2000))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pgbench-seconds", type=int,
                        default=_env_int("BENCH_PGBENCH_SECONDS", 15))  # fmt: skip
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE",
                                                             "warehouse_bench_scale"))  # fmt: skip
    parser.add_argument("--report", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--curves", type=Path, default=PROJECT_ROOT / "docs" / "scaling.md")
    parser.add_argument("--command", default=None, help="the command to print in the report")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
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


def run_command(args: Sequence[str], env: dict[str, str], timeout: float) -> Outcome:
    """Run a command in a process group of its own; stop the group at the timeout."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(args), env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
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
        self.clock.log("setup", f"scratch databases {self.database}, {self.load_database}")
        self.recreate(self.database)
        self.recreate(self.load_database)
        os.environ["PGDATABASE"] = self.database
        try:
            if not self.generate():
                return self.results
            self.load()
            self.dbt_startup()
            if self.first_build():
                self.increments()
                self.hourly()
            else:
                reason = "skipped: the first dbt build did not finish, nothing to build on"
                for name in ("incremental dbt build and run", "hourly status refresh"):
                    self.results.add(Step("dbt", name, "-", outcome="skipped", note=reason))
            self.dashboards()
            self.storage()
            self.single_row_inserts()
        finally:
            self.results.facts["finished_at"] = datetime.now(UTC)
            self.results.facts["load_average_end"] = os.getloadavg()
            try:
                self.report()
            finally:
                if not args.keep:
                    self.drop(self.load_database)
                    self.drop(self.database)
                shutil.rmtree(self.scratch, ignore_errors=True)
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
        """The dbt command line, and how the report shows it."""
        full = [str(BIN / "dbt"), *args]
        shown = ".venv/bin/dbt " + " ".join(args)
        if as_of is not None:
            variables = f"{{as_of: '{as_of.isoformat()}'}}"
            full += ["--vars", variables]
            shown += f' --vars "{variables}"'
        return full, f"PGDATABASE={self.database} {shown}"

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
        else:
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
                select
                    namespace.nspname, class.relname, class.reltuples::bigint,
                    pg_table_size(class.oid), pg_indexes_size(class.oid),
                    pg_total_relation_size(class.oid)
                from pg_class as class
                inner join pg_namespace as namespace on class.relnamespace = namespace.oid
                where namespace.nspname in ('raw', 'staging', 'analytics', 'monitoring')
                    and class.relkind in ('r', 'p', 'm')
                order by pg_total_relation_size(class.oid) desc
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
                ("BENCH_PHASE_TIMEOUT", args.phase_timeout, 1200),
                ("BENCH_LOAD_ROWS", args.load_rows, 1_000_000),
                ("BENCH_PGBENCH_SECONDS", args.pgbench_seconds, 15),
            )
            if value != default
        ]
        command = args.command or " ".join([*settings_shown, "make bench"])
        self.results.facts["command"] = command
        write_report(args.report, self.results)
        write_curves(args.curves, self.results)
        self.clock.log("report", f"wrote {args.report} and {args.curves}")


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
