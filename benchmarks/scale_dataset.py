"""A dataset at the specification's scale, generated inside the database in bounded memory.

The reference data (organizations, teams, users, provider pricing) comes from the synthetic
generator's vocabulary and is written from Python: it is small. Task executions and routing
decisions are generated with set-based SQL, one 24-hour window at a time, straight into the raw
tables; the Python process only sends statements, so its memory does not grow with the scale.

Each window is delivered like a landing file per table (``task_executions__<window>.csv``,
``routing_decisions__<window>.csv``): a ``raw.load_batches`` row with status ``loaded`` and
``rows_read = rows_loaded``, registered in time order, so batch ids grow with time as they do
when the loader reads daily files.

What a task looks like follows ``warehouse.synthetic``: task types, languages, routing (cheapest
provider at list price for 55 % of tasks, else by task-type fit), log-normal durations, tokens,
failure rates per provider and task type, versions pending / running / completed or failed, a
routing decision per task completed with its actuals when the task ends, some re-routed tasks
with a second decision, and 2 % of final versions delivered one to five windows late.

Every draw is a hash of (seed, task number, draw number), so a task is the same whichever window
or run generates it. Classes whose counts a test checks by hand are fixed by the task number n
(0-based, over all windows):

- n % 1000 == 0: stuck pending (one version, no decision actuals);
- n % 1000 in 1..4: stuck running (two versions, no decision actuals);
- n % 100 in 3..5: re-routed (one more routing decision, with its own id);
- n % 20000 == 7: reports a negative cost on its final version (quarantined downstream).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from warehouse.ingest.contract import PROVIDERS, TABLES
from warehouse.privacy.sanitize import sanitize_text
from warehouse.synthetic import catalog
from warehouse.synthetic.entities import GeneratorConfig
from warehouse.synthetic.generator import Generator

WINDOW = timedelta(hours=24)
TASKS_PER_ORGANIZATION_DAY = 1000  # 30 K tasks a month
TASKS_PER_DEVELOPER_DAY = 6
MAX_DURATION_MS = 30 * 60 * 1000  # a task runs at most 30 minutes
REFERENCE_TABLES = ("organizations", "teams", "users", "provider_pricing")
LOAD_DELAY = timedelta(minutes=5)  # a window's files are loaded this long after it closes
TASK_ID = "md5(%(seed)s || ':task:' || n)::uuid"  # the id of task number n


@dataclass(frozen=True)
class Plan:
    """How much to generate: ``tasks`` over ``days`` windows ending ``increments`` windows
    before ``until``, then ``increments`` windows of one day's tasks each."""

    tasks: int
    days: int
    increments: int
    seed: int
    until: datetime

    @property
    def windows(self) -> int:
        return self.days + self.increments

    @property
    def tasks_per_increment(self) -> int:
        return max(1, round(self.tasks / self.days))

    @property
    def organizations(self) -> int:
        return max(3, round(self.tasks / self.days / TASKS_PER_ORGANIZATION_DAY))

    def window_start(self, window: int) -> datetime:
        return self.until - (self.windows - window) * WINDOW

    def window_end(self, window: int) -> datetime:
        return self.window_start(window) + WINDOW

    def task_range(self, window: int) -> tuple[int, int]:
        """Task numbers [first, last) that start in this window."""
        if window < self.days:
            return (window * self.tasks // self.days, (window + 1) * self.tasks // self.days)
        first = self.tasks + (window - self.days) * self.tasks_per_increment
        return first, first + self.tasks_per_increment

    @property
    def base_end(self) -> datetime:
        """The end of the base data (the first build's as_of)."""
        return self.window_end(self.days - 1)

    def total_tasks(self, windows: int) -> int:
        """Tasks generated in windows [0, windows)."""
        return self.task_range(windows - 1)[1]


@dataclass(frozen=True)
class WindowCounts:
    window: int
    tasks: int
    task_versions: int
    routing_decisions: int


def expected_counts(tasks: int) -> dict[str, int]:
    """Rows the classes above give for task numbers 0..tasks-1 (every version delivered)."""
    stuck_pending = sum(1 for n in range(tasks) if n % 1000 == 0)
    stuck_running = sum(1 for n in range(tasks) if 1 <= n % 1000 <= 4)
    rerouted = sum(1 for n in range(tasks) if 3 <= n % 100 <= 5)
    finished = tasks - stuck_pending - stuck_running
    return {
        "tasks": tasks,
        "task_versions": tasks + (tasks - stuck_pending) + finished,
        "routing_decisions": tasks + finished + rerouted,
        "distinct_routing_decisions": tasks + rerouted,
        "quarantined": sum(1 for n in range(tasks) if n % 20000 == 7),
    }


# ---------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Reference:
    organizations: int
    teams: int
    users: int
    pricing_rows: list[dict]


def _batch(
    connection: psycopg.Connection, table: str, source_file: str, loaded_at: datetime, key: str
) -> int:
    """Register one delivered file as the loader does (its counts are set by ``_close``)."""
    checksum = hashlib.sha256(key.encode()).hexdigest()
    row = connection.execute(
        """
        insert into raw.load_batches
            (table_name, source_file, file_format, file_checksum, file_bytes, status,
             started_at, finished_at, duration_ms)
        values (%s, %s, 'csv', %s, 0, 'loaded', %s, %s, 0)
        returning batch_id
        """,
        (table, source_file, checksum, loaded_at, loaded_at),
    ).fetchone()
    return row[0]


def _count(connection: psycopg.Connection, insert: str, params: dict, batch_id: int) -> int:
    """Run a batch's insert and record its counts; return the rows."""
    rows, size = connection.execute(insert, params).fetchone()
    connection.execute(
        "update raw.load_batches set rows_read = %s, rows_loaded = %s, file_bytes = %s "
        "where batch_id = %s",
        (rows, rows, size, batch_id),
    )
    return rows


def _close(connection: psycopg.Connection, table: str, batch_id: int) -> int:
    """Set the batch's counts (and its size, the rows' text) from what landed; return rows."""
    rows, size = connection.execute(
        sql.SQL(
            "select count(*), coalesce(sum(octet_length(landed::text)), 0) "
            "from {} as landed where _batch_id = %s"
        ).format(sql.Identifier("raw", table)),
        (batch_id,),
    ).fetchone()
    connection.execute(
        "update raw.load_batches set rows_read = %s, rows_loaded = %s, file_bytes = %s "
        "where batch_id = %s",
        (rows, rows, size, batch_id),
    )
    return rows


def _copy_reference(
    connection: psycopg.Connection, table: str, rows: Sequence[dict], loaded_at: datetime, seed: int
) -> None:
    columns = TABLES[table].column_names
    with connection.transaction():
        batch_id = _batch(connection, table, f"{table}.csv", loaded_at, f"bench:{seed}:{table}")
        statement = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier("raw", table),
            sql.SQL(", ").join(map(sql.Identifier, [*columns, "_loaded_at", "_batch_id",
                                                    "_source_file", "_source_line"])),
        )  # fmt: skip
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for line, row in enumerate(rows, start=2):  # line 1 is the header
                copy.write_row([*(row.get(name) for name in columns), loaded_at, batch_id,
                                f"{table}.csv", line])  # fmt: skip
        _close(connection, table, batch_id)


def write_reference(connection: psycopg.Connection, plan: Plan) -> Reference:
    """Organizations, teams, users and prices, as the synthetic generator shapes them, sized so
    that each developer starts about six tasks a day; plus the lookup tables of schema bench."""
    first_start = plan.window_start(0)
    config = GeneratorConfig(
        end_date=plan.until.date(),
        orgs=plan.organizations,
        days=(plan.until.date() - first_start.date()).days + 1,
        seed=plan.seed,
    )
    generator = Generator(config)
    organizations = generator.organizations()
    pricing = generator.pricing()
    rng = generator.rng
    developers_per_org = plan.tasks / plan.days / TASKS_PER_DEVELOPER_DAY / plan.organizations
    teams: list[dict] = []
    users: list[dict] = []
    for organization in organizations:
        org = organization.row
        slug = org["name"].lower().replace(" ", "-")
        size = max(5, round(developers_per_org * rng.uniform(0.5, 1.5)))
        team_count = min(len(catalog.TEAM_NAMES), max(2, size // 30))
        org_teams = [
            {"id": generator.new_id(), "organization_id": org["id"], "name": name,
             "created_at": org["created_at"], "updated_at": org["created_at"]}
            for name in rng.sample(catalog.TEAM_NAMES, team_count)
        ]  # fmt: skip
        teams += org_teams
        roles = ["org_admin"] + ["team_lead"] * team_count
        roles += ["developer"] * max(size - len(roles), 1)
        for number, role in enumerate(roles):
            first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
            created = org["created_at"] + timedelta(days=rng.randint(0, 20))
            users.append(
                {
                    "id": generator.new_id(),
                    "organization_id": org["id"],
                    "team_id": None
                    if role == "org_admin"
                    else org_teams[(number - 1) % team_count]["id"],
                    "name": f"{first} {last}",
                    "email": f"{first}.{last}{number}@{slug}.example.com".lower(),
                    "role": role,
                    "created_at": created,
                    "updated_at": created,
                    "deleted_at": None,
                    "baseline_provider": org["default_provider"] or "github_copilot",
                }
            )
    loaded_at = first_start - timedelta(days=1)
    org_rows = [organization.row for organization in organizations]
    for table, rows in (("organizations", org_rows), ("teams", teams), ("users", users),
                        ("provider_pricing", pricing)):  # fmt: skip
        _copy_reference(connection, table, rows, loaded_at, plan.seed)
    _create_lookups(connection, users)
    return Reference(len(org_rows), len(teams), len(users), pricing)


def _create_lookups(connection: psycopg.Connection, users: list[dict]) -> None:
    """Schema bench: the draw function, users by number, and the rows still to be delivered."""
    contract = {
        table: ", ".join(TABLES[table].column_names)
        for table in ("task_executions", "routing_decisions")
    }
    with connection.transaction():
        connection.execute("drop schema if exists bench cascade")
        connection.execute("create schema bench")
        # A uniform draw in [0, 1) from (task number, salt): a hash, so order does not matter.
        connection.execute(
            """
            create function bench.draw(n bigint, salt bigint) returns double precision
            language sql immutable parallel safe
            as $$ select (hashint8extended(n, salt) & 9007199254740991)::double precision
                         / 9007199254740992.0 $$
            """
        )
        connection.execute(
            "create table bench.users (user_number integer primary key, user_id uuid not null, "
            "organization_id uuid not null, baseline_provider text not null)"
        )
        with connection.cursor() as cursor, cursor.copy("copy bench.users from stdin") as copy:
            for number, user in enumerate(users):
                copy.write_row((number, user["id"], user["organization_id"],
                                user["baseline_provider"]))  # fmt: skip
        for table, columns in contract.items():
            connection.execute(
                f"create table bench.held_{table} as select {columns} from raw.{table} with no data"
            )
            connection.execute(f"alter table bench.held_{table} add column deliver_window integer")
        connection.execute("analyze bench.users")


# ---------------------------------------------------------------------- the SQL


def _weighted_case(draw: str, weights: dict[str, float]) -> str:
    """``case`` picking a key of ``weights`` from a uniform draw (cumulative bounds)."""
    total = sum(weights.values())
    bound, branches = 0.0, []
    keys = list(weights)
    for key in keys[:-1]:
        bound += weights[key] / total
        branches.append(f"when {draw} < {bound!r} then '{key}'")
    return f"case {' '.join(branches)} else '{keys[-1]}' end"


def _by_key_case(column: str, values: dict[str, str]) -> str:
    branches = " ".join(f"when '{key}' then {value}" for key, value in values.items())
    return f"case {column} {branches} end"


def _list_price_cost(pricing: list[dict], provider: str, tokens: str, duration_ms: str) -> str:
    """The provider's list-price cost at start_time (the generic rows, as the generator
    reports costs): one ``case`` branch per price window."""
    rows = sorted(
        (row for row in pricing if row["provider"] == provider and row["task_type"] is None
         and row["pricing_tier"] is None),
        key=lambda row: row["effective_from"],
    )  # fmt: skip
    branches = []
    for row in rows:
        cost = (f"{tokens} * {row['cost_per_token'] or 0} + {row['cost_per_request'] or 0} "
                f"+ {duration_ms} / 60000.0 * {row['cost_per_minute'] or 0}")  # fmt: skip
        until = row["effective_until"]
        condition = f"start_time < '{until.isoformat()}'" if until else "true"
        branches.append(f"when {condition} then {cost}")
    return f"round(case {' '.join(branches)} end, 6)"


def _cheapest_case(costs: dict[str, str]) -> str:
    """The cheapest provider, ties broken alphabetically (as the generator's router does)."""
    names = sorted(costs)
    branches = []
    for index, name in enumerate(names[:-1]):
        others = " and ".join(f"{costs[name]} <= {costs[other]}" for other in names[index + 1 :])
        branches.append(f"when {others} then '{name}'")
    return f"case {' '.join(branches)} else '{names[-1]}' end"


def _texts() -> dict[str, list[str]]:
    """Free text, already in the sanitized form the loader would store."""
    rng = random.Random(0)
    suffixes = [" (ask ada.lovelace@acme.example.com)", "; repro key sk-" + "0f" * 16,
                ", see /home/ada/src/app.py", " from host 10.1.2.7"]  # fmt: skip
    errors = [
        template.format(seconds=rng.choice((30, 60, 120)), line=rng.randint(3, 400),
                        module=rng.choice(catalog.MODULES).replace(" ", "_"),
                        tokens=rng.randint(200, 40_000) * 4)
        for template in catalog.ERROR_MESSAGES for _ in range(8)
    ]  # fmt: skip
    return {
        "things": list(catalog.THINGS),
        "modules": list(catalog.MODULES),
        "suffixes": [sanitize_text(text) for text in suffixes],
        "errors": [sanitize_text(text) for text in errors],
        "reasons": [reason.replace("{task_type}", "%s") for reason in catalog.ROUTING_REASONS],
    }


def _window_task_sql(plan: Plan, pricing: list[dict], user_count: int) -> str:
    """One row per task starting in the window, with everything its rows need."""
    salt = plan.seed * 100

    def draw(k: int) -> str:
        return f"bench.draw(n, {salt + k})"

    providers = sorted(PROVIDERS)
    descriptions = {
        task_type: "array[" + ", ".join(
            "'" + template.format(thing="%%1$s", module="%%2$s").replace("'", "''") + "'"
            for template in templates) + "]"
        for task_type, templates in catalog.DESCRIPTIONS.items()
    }  # fmt: skip
    description_counts = {key: str(len(value)) for key, value in catalog.DESCRIPTIONS.items()}
    medians = {key: str(seconds * 1000) for key, seconds in
               catalog.MEDIAN_DURATION_SECONDS.items()}  # fmt: skip
    fit = {
        task_type: _weighted_case("fit_draw", dict(zip(PROVIDERS, weights, strict=True)))
        for task_type, weights in catalog.ROUTING_WEIGHTS.items()
    }
    failure_factor = {key: str(value) for key, value in catalog.FAILURE_FACTOR.items()}
    failure_base = {key: str(value) for key, value in catalog.BASE_FAILURE_RATE.items()}
    planned_cost = {p: _list_price_cost(pricing, p, "tokens", "planned_ms") for p in providers}
    final_cost = {p: _list_price_cost(pricing, p, "tokens", "duration_ms") for p in providers}
    others = {
        p: "jsonb_build_array(" + ", ".join(f"'{o}'" for o in PROVIDERS if o != p) + ")"
        for p in PROVIDERS
    }
    alternatives = {
        p: "jsonb_build_array(" + ", ".join(
            f"jsonb_build_object('provider', '{o}', 'score', round(score_{i}::numeric, 3), "
            f"'reasoning', 'score ' || to_char(score_{i}, 'FM0.00'))"
            for i, o in enumerate(o for o in PROVIDERS if o != p)) + ")"
        for p in PROVIDERS
    }  # fmt: skip
    midpoint = plan.window_start(0) + (plan.until - plan.window_start(0)) / 2
    late_share = catalog.SHARE_DELIVERED_LATE
    return f"""
    create temp table window_task on commit drop as
    with drawn as (
        select
            n,
            %(window_start)s::timestamptz
                + floor({draw(1)} * 86400) * interval '1 second' as start_time,
            floor({draw(2)} * {user_count})::integer as user_number,
            {_weighted_case(draw(3), catalog.TASK_TYPE_WEIGHTS)} as task_type,
            {_weighted_case(draw(4), catalog.CODE_LANGUAGES)} as code_language,
            sqrt(-2 * ln(1 - {draw(5)})) as radius,
            2 * pi() * {draw(6)} as angle,
            sqrt(-2 * ln(1 - {draw(7)})) as radius_2,
            2 * pi() * {draw(8)} as angle_2,
            {draw(9)} < {catalog.SHARE_ROUTED_BY_COST} as is_routed_by_cost,
            {draw(10)} as fit_draw,
            {draw(11)} as failure_draw,
            {draw(12)} as shortening_draw,
            {draw(13)} < {late_share} as is_late,
            1 + floor({draw(14)} * {catalog.MAX_DELIVERY_DELAY_DAYS})::integer as late_windows,
            1 + floor({draw(15)} * 5)::integer as pending_seconds,
            floor({draw(16)} * 4)::integer as closing_seconds,
            200 + floor({draw(17)} * 1800)::integer as decision_lead_ms,
            0.4 + 0.55 * {draw(18)} as score_0,
            0.4 + 0.55 * {draw(19)} as score_1,
            70 + 25 * {draw(20)} as predicted_quality,
            {draw(21)} as quality_draw,
            {draw(22)} < {catalog.SHARE_WITH_PII} as has_pii,
            {draw(23)} as text_draw,
            {draw(24)} as text_draw_2,
            {draw(25)} as text_draw_3
        from generate_series(%(first)s::bigint, %(last)s::bigint - 1) as n
    ),

    sized as materialized (
        select
            *,
            greatest(1000, least({MAX_DURATION_MS}, round(
                {_by_key_case("task_type", medians)}
                * exp({catalog.DURATION_SIGMA} * radius * cos(angle)))))::bigint as planned_ms
        from drawn
    ),

    tokened as materialized (
        select
            *,
            greatest(50, round(planned_ms / 1000.0 * {catalog.TOKENS_PER_SECOND}
                * exp(0.3 * radius * sin(angle))))::bigint as tokens
        from sized
    ),

    routed as materialized (
        select
            *,
            case
                when is_routed_by_cost then {_cheapest_case(planned_cost)}
                else {_by_key_case("task_type", fit)}
            end as provider
        from tokened
    ),

    outcome as materialized (
        select
            *,
            case
                when mod(n, 1000) = 0 then 'stuck_pending'
                when mod(n, 1000) between 1 and 4 then 'stuck_running'
                when failure_draw < {_by_key_case("provider", failure_base)}
                    * {_by_key_case("task_type", failure_factor)} then 'failed'
                else 'completed'
            end as outcome
        from routed
    ),

    timed as materialized (
        select
            *,
            case
                when outcome = 'failed'
                    then greatest(500, round(planned_ms * (0.2 + 0.8 * shortening_draw)))::bigint
                else planned_ms
            end as duration_ms
        from outcome
    ),

    costed as materialized (
        select
            timed.*,
            users.user_id,
            users.organization_id,
            {_by_key_case("provider", final_cost)} as cost,
            {_by_key_case("users.baseline_provider", final_cost)} as baseline_cost
        from timed
        inner join bench.users as users on timed.user_number = users.user_number
    )

    select
        n,
        {TASK_ID} as id,
        'TASK-' || lpad((n + 1)::text, 8, '0') as task_id,
        user_id,
        organization_id,
        task_type,
        format(
            ({_by_key_case("task_type", descriptions)})[
                1 + floor(text_draw * {_by_key_case("task_type", description_counts)})::integer],
            (%(things)s::text[])[1 + floor(text_draw_2 * {len(catalog.THINGS)})::integer],
            (%(modules)s::text[])[1 + floor(text_draw_3 * {len(catalog.MODULES)})::integer]
        ) || case
            when has_pii then (%(suffixes)s::text[])[1 + floor(text_draw_2 * 4)::integer]
            else ''
        end as task_description,
        code_language,
        provider,
        format(
            (%(reasons)s::text[])[1 + floor(text_draw_3 * {len(catalog.ROUTING_REASONS)})::integer],
            task_type
        ) as routing_reason,
        {_by_key_case("provider", others)} as alternative_providers,
        start_time,
        start_time + duration_ms * interval '1 millisecond' as end_time,
        duration_ms,
        tokens,
        case when mod(n, 20000) = 7 then -cost else cost end as cost,
        baseline_cost,
        baseline_cost - cost as savings,
        outcome,
        case
            when outcome = 'failed'
                then (%(errors)s::text[])[1 + floor(text_draw * {len(_texts()["errors"])})::integer]
        end as error_message,
        start_time - pending_seconds * interval '1 second' as created_at,
        start_time + duration_ms * interval '1 millisecond'
            + closing_seconds * interval '1 second' as closed_at,
        is_late,
        late_windows,
        start_time - decision_lead_ms * interval '1 millisecond' as decided_at,
        {_by_key_case("provider", alternatives)} as decision_alternatives,
        case
            when start_time - decision_lead_ms * interval '1 millisecond'
                < '{midpoint.isoformat()}'
                then '{catalog.ALGORITHM_VERSIONS[0]}'
            else '{catalog.ALGORITHM_VERSIONS[1]}'
        end as algorithm_version,
        round(coalesce(cost, 0.01)
            * round(exp(0.2 * radius_2 * cos(angle_2))::numeric, 3), 6) as predicted_cost,
        round(duration_ms * exp(0.25 * radius_2 * sin(angle_2)))::bigint as predicted_ms,
        round(predicted_quality::numeric, 2) as predicted_quality,
        round((case when outcome = 'completed' then 60 + 38 * quality_draw
            else 40 * quality_draw end)::numeric, 2) as actual_quality,
        mod(n, 100) between 3 and 5 as is_rerouted
    from costed
    """


TASK_VERSION = {
    "pending": "null::timestamptz, null::bigint, 0::bigint, 0::numeric, null::numeric, "
    "null::numeric, 'pending', null::text, created_at, created_at",
    "running": "null::timestamptz, null::bigint, 0::bigint, 0::numeric, null::numeric, "
    "null::numeric, 'running', null::text, created_at, start_time",
    "final": "end_time, duration_ms, tokens, cost, baseline_cost, savings, outcome, "
    "error_message, created_at, closed_at",
}
TASK_COMMON = (
    "id, task_id, user_id, organization_id, task_type, task_description, code_language, "
    "provider, routing_reason, alternative_providers, start_time"
)
DECISION = (
    "{id}, id, provider, {decided}, decision_alternatives, algorithm_version, "
    '\'{{"cost_weight": 0.5, "performance_weight": 0.3, "availability_weight": 0.2}}\''
    "::jsonb, predicted_cost, predicted_ms, predicted_quality, {actuals}, {created}"
)
DECISION_ID = "md5(%(seed)s || ':decision:' || n)::uuid"
REROUTE_ID = "md5(%(seed)s || ':reroute:' || n)::uuid"
NO_ACTUALS = "null::numeric, null::bigint, null::numeric"
ACTUALS = "cost, duration_ms, actual_quality"
FINISHED = "outcome in ('completed', 'failed')"


def _delivery(moment: str) -> str:
    """The window a row written at ``moment`` is delivered in (before the lateness)."""
    return (
        f"case when {moment} < %(window_end)s::timestamptz then %(window)s else %(window)s + 1 end"
    )


def _window_statements() -> tuple[list[str], str, str, list[str]]:
    """Hold back the rows of this window's tasks that are delivered later; insert the
    window's batches (its own rows plus the held rows due now), each returning its row count
    and size; forget the held rows delivered."""
    task_columns = ", ".join(TABLES["task_executions"].column_names)
    decision_columns = ", ".join(TABLES["routing_decisions"].column_names)
    final_window = (
        f"least(%(last_window)s, {_delivery('closed_at')} "
        f"+ case when is_late then late_windows else 0 end)"
    )
    actuals_window = f"least(%(last_window)s, {_delivery('closed_at')})"
    final_version = f"{TASK_COMMON}, {TASK_VERSION['final']}"
    decision_with_actuals = DECISION.format(
        id=DECISION_ID, decided="decided_at", actuals=ACTUALS, created="closed_at"
    )
    return (
        [
        f"insert into bench.held_task_executions ({task_columns}, deliver_window) "
        f"select {final_version}, {final_window} from window_task "
        f"where {FINISHED} and {final_window} > %(window)s",
        f"insert into bench.held_routing_decisions ({decision_columns}, deliver_window) "
        f"select {decision_with_actuals}, {actuals_window} from window_task "
        f"where {FINISHED} and {actuals_window} > %(window)s",
        ],
        f"""
        with landed as (
        insert into raw.task_executions as landed_row
            ({task_columns}, _loaded_at, _batch_id, _source_file, _source_line)
        select
            {task_columns}, %(loaded_at)s, %(task_batch)s, %(task_file)s,
            1 + row_number() over (order by updated_at, id, status)
        from (
            select {TASK_COMMON}, {TASK_VERSION["pending"]} from window_task
            union all
            select {TASK_COMMON}, {TASK_VERSION["running"]} from window_task
            where outcome <> 'stuck_pending'
            union all
            select {final_version} from window_task
            where {FINISHED} and {final_window} = %(window)s
            union all
            select {task_columns} from bench.held_task_executions
            where deliver_window = %(window)s
        ) as versions ({task_columns})
        returning octet_length(landed_row::text) as row_bytes
        )
        select count(*), coalesce(sum(row_bytes), 0) from landed
        """,
        f"""
        with landed as (
        insert into raw.routing_decisions as landed_row
            ({decision_columns}, _loaded_at, _batch_id, _source_file, _source_line)
        select
            {decision_columns}, %(loaded_at)s, %(decision_batch)s, %(decision_file)s,
            1 + row_number() over (order by created_at, id)
        from (
            select {DECISION.format(id=DECISION_ID, decided="decided_at", actuals=NO_ACTUALS,
                                    created="decided_at")}
            from window_task
            union all
            select {DECISION.format(id=REROUTE_ID,
                                    decided="decided_at - interval '1 second'",
                                    actuals=NO_ACTUALS,
                                    created="decided_at - interval '1 second'")}
            from window_task where is_rerouted
            union all
            select {decision_with_actuals} from window_task
            where {FINISHED} and {actuals_window} = %(window)s
            union all
            select {decision_columns} from bench.held_routing_decisions
            where deliver_window = %(window)s
        ) as decisions ({decision_columns})
        returning octet_length(landed_row::text) as row_bytes
        )
        select count(*), coalesce(sum(row_bytes), 0) from landed
        """,
        [
        "delete from bench.held_task_executions where deliver_window = %(window)s",
        "delete from bench.held_routing_decisions where deliver_window = %(window)s",
        ],
    )  # fmt: skip


def generate_windows(
    connection: psycopg.Connection,
    plan: Plan,
    reference: Reference,
    windows: range,
    *,
    on_window: Callable[[WindowCounts], None] | None = None,
) -> list[WindowCounts]:
    """Generate and deliver ``windows`` (consecutive), one transaction per window. Rows due
    after the last of them are delivered with it, so nothing is held back at the end."""
    user_count = connection.execute("select count(*) from bench.users").fetchone()[0]
    create_tasks = _window_task_sql(plan, reference.pricing_rows, user_count)
    hold, insert_versions, insert_decisions, forget = _window_statements()
    texts = _texts()
    results = []
    for window in windows:
        first, last = plan.task_range(window)
        start, end = plan.window_start(window), plan.window_end(window)
        loaded_at = end + LOAD_DELAY
        label = start.strftime("%Y%m%dT%H%M")
        with connection.transaction():
            # the window's month partitions first, so that no row goes through the default one
            connection.execute("select raw.ensure_task_execution_months(%s, %s)", (start, end))
            task_file = f"task_executions__{label}.csv"
            decision_file = f"routing_decisions__{label}.csv"
            params = {
                **texts,
                "seed": str(plan.seed),
                "first": first,
                "last": last,
                "window": window,
                "last_window": windows[-1],
                "window_start": start,
                "window_end": end,
                "loaded_at": loaded_at,
                "task_file": task_file,
                "decision_file": decision_file,
                "task_batch": _batch(connection, "task_executions", task_file, loaded_at,
                                     f"bench:{plan.seed}:{task_file}"),
                "decision_batch": _batch(connection, "routing_decisions", decision_file,
                                         loaded_at, f"bench:{plan.seed}:{decision_file}"),
            }  # fmt: skip
            connection.execute(create_tasks, params)
            for statement in hold:
                connection.execute(statement, params)
            versions = _count(connection, insert_versions, params, params["task_batch"])
            decisions = _count(connection, insert_decisions, params, params["decision_batch"])
            for statement in forget:
                connection.execute(statement, params)
        counts = WindowCounts(window, last - first, versions, decisions)
        results.append(counts)
        if on_window is not None:
            on_window(counts)
    return results


def describe(plan: Plan, reference: Reference) -> str:
    return (
        f"{plan.tasks:,} tasks over {plan.days} days "
        f"({math.ceil(plan.tasks / plan.days):,} a day) from {reference.organizations} "
        f"organizations, {reference.teams} teams and {reference.users:,} users; "
        f"{len(reference.pricing_rows)} pricing rows; then {plan.increments} more day(s) of "
        f"{plan.tasks_per_increment:,} tasks each; seed {plan.seed}; data until "
        f"{plan.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
