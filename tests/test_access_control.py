"""Access control on the people's warehouse (tests/people.py), read through real login roles.

Each test login is a member of one reader role and names a user in ``app.user_id``:
  org_admin + M  -> org A's rows      team_lead + L  -> T1's rows (L, D1, D2)
  developer + D1 -> D1's rows         bi_reader      -> every row, without an identity
  anyone without an identity, with an unknown or malformed one, or with a user whose role
  in the data is not the login's (org_admin + D1), or a deleted user -> no row
  support -> schema support only (organizations pseudonymized), nothing of analytics
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tests.people import (
    NAMES,
    ORG_A,
    ORG_B,
    PSEUDONYM_KEY,
    T1,
    T2,
    TB,
    USERS,
    build,
    built_warehouse,
    task_id,
    user_id,
    write,
)
from warehouse import settings
from warehouse.ingest.loader import load_paths
from warehouse.live import CACHES, refresh_live_summaries
from warehouse.privacy.pseudonyms import KEY_VARIABLE, pseudonym


@pytest.fixture(scope="module")
def warehouse(server, people_template, tmp_path_factory) -> Iterator[psycopg.Connection]:
    """A copy of the people's warehouse for the module (its tests only read it, but the last
    two, which load and rebuild); the pseudonym key set by the setting."""
    with built_warehouse(
        server, tmp_path_factory.mktemp("access"), people_template, {KEY_VARIABLE: PSEUDONYM_KEY}
    ) as connection:
        yield connection


@contextmanager
def login(role: str) -> Iterator[psycopg.Connection]:
    """A connection of a new login role that is a member of ``role`` (dropped afterwards)."""
    database = settings.connection()
    name = f"wh_test_{role}_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(
        host=database.host, port=database.port, user=database.user,
        dbname=database.database, autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(
            sql.SQL("create role {} login password {} in role {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Identifier(role)
            )
        )
        try:
            with psycopg.connect(
                host=database.host, port=database.port, user=name, password=password,
                dbname=database.database, autocommit=True,
            ) as connection:  # fmt: skip
                yield connection
        finally:
            admin.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def as_user(connection: psycopg.Connection, name: str | None) -> psycopg.Connection:
    value = "" if name is None else user_id(name) if name in USERS else name
    connection.execute("select set_config('app.user_id', %s, false)", (value,))
    return connection


def visible(connection: psycopg.Connection, query: str) -> set[str]:
    return {row[0] for row in connection.execute(query)}


def owners(connection: psycopg.Connection) -> dict[str, set[str]]:
    """Whose rows the connection sees in each covered relation, by user name (X, ...), or by
    organization (A, B) / team (T1, ...) for the relations about those."""
    by_user = {user_id(name): name for name in USERS}
    by_task = {task_id(name): name for name in USERS}
    by_org = {ORG_A: "A", ORG_B: "B"}
    by_team = {T1: "T1", T2: "T2", TB: "TB"}

    def names(query: str, mapping: dict[str, str]) -> set[str]:
        return {mapping[str(value)] for value in visible(connection, query)}

    return {
        "task_executions": names("select user_id from analytics.task_executions", by_user),
        "routing_decisions": names(
            "select task_execution_id from analytics.routing_decisions", by_task
        ),
        "user_analytics": names("select user_id from analytics.user_analytics", by_user),
        "users": names("select id from analytics.users", by_user),
        "team_productivity_weekly": names(
            "select user_id from analytics.team_productivity_weekly", by_user
        ),
        "organization_analytics": names(
            "select organization_id from analytics.organization_analytics", by_org
        ),
        "organization_cost_dashboard": names(
            "select organization_id from analytics.organization_cost_dashboard", by_org
        ),
        "organizations": names("select id from analytics.organizations", by_org),
        "teams": names("select id from analytics.teams", by_team),
    }


def everywhere(people: set[str], organizations: set[str], teams: set[str]) -> dict:
    """The expected owners(): ``people`` in every relation about users (a deleted user's past
    rows stay in the marts), and these organizations and teams."""
    return {
        "task_executions": people,
        "routing_decisions": people,
        "user_analytics": people,
        "users": people,
        "team_productivity_weekly": people,
        "organization_analytics": organizations & {"A", "B"},
        "organization_cost_dashboard": organizations & {"A", "B"},
        "organizations": organizations,
        "teams": teams,
    }


ORG_A_PEOPLE = {"M", "L", "D1", "D2", "D3", "X"}


def test_each_role_sees_exactly_its_rows(warehouse):
    with login("analytics_org_admin") as admin:
        assert owners(as_user(admin, "M")) == everywhere(ORG_A_PEOPLE, {"A"}, {"T1", "T2"})
        assert owners(as_user(admin, "N")) == everywhere({"N", "E"}, {"B"}, {"TB"})
        # the login's role is not the user's: an org_admin login naming a developer
        assert owners(as_user(admin, "D1")) == everywhere(set(), {"A"}, {"T1"}) | {
            "organization_analytics": set(),
            "organization_cost_dashboard": set(),
            "teams": set(),
        }

    with login("analytics_team_lead") as lead:
        team = everywhere({"L", "D1", "D2", "X"}, {"A"}, {"T1"})
        team["organization_analytics"] = team["organization_cost_dashboard"] = set()
        assert owners(as_user(lead, "L")) == team

    with login("analytics_developer") as developer:
        own = everywhere({"D1"}, {"A"}, {"T1"})
        own["organization_analytics"] = own["organization_cost_dashboard"] = set()
        assert owners(as_user(developer, "D1")) == own
        # another developer's rows are out of reach, even asked for by id
        assert developer.execute(
            "select count(*) from analytics.task_executions where user_id = %s",
            (user_id("D2"),),
        ).fetchone() == (0,)

    with login("analytics_bi_reader") as reader:
        assert owners(as_user(reader, None)) == everywhere(
            set(USERS), {"A", "B"}, {"T1", "T2", "TB"}
        )


def index_conditions(plan: dict) -> list[str]:
    """Every index condition of an EXPLAIN (FORMAT JSON) plan, with its nested plans'."""
    found = [plan["Index Cond"]] if "Index Cond" in plan else []
    for child in plan.get("Plans", []):
        found += index_conditions(child)
    return found


@pytest.mark.parametrize(
    ("relation", "column"),
    [("task_executions", "user_id"), ("user_analytics", "user_id"), ("users", "id")],
)
def test_a_team_leads_rows_are_found_by_index(warehouse, relation, column):
    """The team lead's policy names the team's users as an array (`= any(array(...))`), which
    an index on the user column can answer; `in (select ...)` filtered every row of the table
    instead (a team lead's task log took 1.4 s at 10 M tasks). The plan is asked with
    sequential scans disabled: the old policy's plan has no index condition on the column."""
    with login("analytics_team_lead") as lead:
        as_user(lead, "L")
        with lead.transaction():
            lead.execute("set local enable_seqscan = off")
            [[[plan]]] = lead.execute(
                sql.SQL("explain (format json) select * from analytics.{}").format(
                    sql.Identifier(relation)
                )
            ).fetchall()
    conditions = index_conditions(plan["Plan"])
    assert any(f"{column} = ANY" in condition for condition in conditions), conditions


UNKNOWN_USER = "0badbeef-0000-4000-8000-000000000000"


@pytest.mark.parametrize("identity", [None, "not-a-uuid", UNKNOWN_USER, "X"])
def test_no_identity_or_an_unknown_or_deleted_user_sees_no_row(warehouse, identity):
    nothing = everywhere(set(), set(), set())
    for role in ("analytics_org_admin", "analytics_team_lead", "analytics_developer"):
        with login(role) as reader:
            assert owners(as_user(reader, identity)) == nothing, role


def test_the_identity_can_be_set_per_transaction(warehouse):
    """What a pooled BI connection does: set local inside the transaction of its query."""
    with login("analytics_developer") as developer:
        with developer.transaction():
            developer.execute(
                sql.SQL("set local app.user_id = {}").format(sql.Literal(user_id("E")))
            )
            assert visible(developer, "select task_id from analytics.task_executions") == {"task-E"}
        assert visible(developer, "select task_id from analytics.task_executions") == set()


@pytest.mark.parametrize(
    ("role", "relation"),
    [
        ("analytics_developer", "raw.task_executions"),
        ("analytics_developer", "staging.stg_platform__users"),
        ("analytics_developer", "monitoring.data_quality_daily"),
        ("analytics_developer", "support.organization_daily"),
        ("analytics_bi_reader", "raw.users"),
        ("analytics_bi_reader", "monitoring.quarantined_task_executions"),
        ("analytics_support", "analytics.organizations"),
        ("analytics_support", "analytics.organization_analytics"),
        ("analytics_support", "raw.organizations"),
        ("analytics_support", "privacy.pseudonym_key"),
    ],
)
def test_roles_cannot_read_outside_their_schemas(warehouse, role, relation):
    with login(role) as reader:
        as_user(reader, "D1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(f"select 1 from {relation} limit 1")


@pytest.mark.parametrize(
    "role",
    ["analytics_org_admin", "analytics_team_lead", "analytics_developer", "analytics_bi_reader"],
)
def test_the_live_stores_functions_are_reached_only_through_the_live_view(warehouse, role):
    """raw.live_tasks_of and raw.live_unlisted_task_ids run with their owner's rights (they
    read staging for the live view, which filters the rows for its caller): called directly,
    a reader role is refused at schema raw."""
    with login(role) as reader:
        as_user(reader, "M")
        for call in ("select * from raw.live_tasks_of(array[%s::uuid])",
                     "select raw.live_unlisted_task_ids() as ids, %s::uuid as unused"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema raw"):
                reader.execute(call, (task_id("D1"),))
        reader.execute("select count(*) from analytics.live_task_executions").fetchone()


WRITES = [
    "insert into analytics.organizations (id, name) values (gen_random_uuid(), 'mine')",
    "update analytics.task_executions set cost_usd = 0",
    "delete from analytics.users",
    "truncate analytics.user_analytics",
    "create table analytics.mine (id int)",
    "update support.organization_daily set total_tasks = 0",
    "create table support.mine (id int)",
]


@pytest.mark.parametrize(
    "role",
    [
        "analytics_org_admin",
        "analytics_team_lead",
        "analytics_developer",
        "analytics_bi_reader",
        "analytics_support",
    ],
)
def test_nobody_but_the_build_role_writes(warehouse, role):
    with login(role) as reader:
        as_user(reader, "M")
        for statement in WRITES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    assert warehouse.execute("select count(*) from analytics.users").fetchone() == (len(USERS),)


def test_support_sees_anonymized_aggregates_only(warehouse):
    with login("analytics_support") as support:
        rows = support.execute(
            "select organization_pseudonym, pricing_tier, metric_date::text, total_tasks "
            "from support.organization_daily order by total_tasks"
        ).fetchall()
        columns = {
            row[0]
            for row in support.execute(
                "select column_name from information_schema.columns where table_schema = 'support'"
            )
        }
    key = PSEUDONYM_KEY.encode()
    assert rows == [
        (pseudonym(key, ORG_B), "enterprise", "2026-03-01", 2),
        (pseudonym(key, ORG_A), "standard", "2026-03-01", 6),
    ]
    assert not columns & {"organization_id", "user_id", "name", "email", "task_description",
                          "error_message", "id"}  # fmt: skip


def tasks_of_today(directory: Path) -> Path:
    """A landing directory with one task of today, completed a minute ago, each of D1, D2
    (organization A) and E (B)."""
    directory.mkdir()
    now = datetime.now(UTC).replace(microsecond=0)
    start = max(now - timedelta(minutes=2), now.replace(hour=0, minute=0, second=0))
    write(directory / "task_executions.csv", [
        {"id": f"{NAMES.index(name) + 1:08d}-0000-4000-8000-0000000000f0",
         "task_id": f"late-{name}", "user_id": user_id(name), "organization_id": org,
         "task_type": "bug_fix", "provider": "github_copilot",
         "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=1)).isoformat(),
         "tokens_used": 100, "status": "completed",
         "updated_at": (start + timedelta(seconds=1)).isoformat()}
        for name, org in (("D1", ORG_A), ("D2", ORG_A), ("E", ORG_B))
    ])  # fmt: skip
    return directory


def test_the_live_views_show_each_caller_its_rows_only(warehouse, tmp_path):
    """The live view runs with its owner's rights (it reads staging) and filters for its caller
    as the marts' policies do; the live metrics read it with the caller's rights."""
    load_paths(warehouse, [tasks_of_today(tmp_path / "later")])
    live = "select task_id from analytics.live_task_executions"
    recent = "select organization_id from analytics.live_last_five_minutes"
    assert visible(warehouse, live) == {"late-D1", "late-D2", "late-E"}  # the build role
    with login("analytics_developer") as developer:
        assert visible(as_user(developer, "D1"), live) == {"late-D1"}
        assert visible(as_user(developer, None), live) == set()
    with login("analytics_team_lead") as lead:
        assert visible(as_user(lead, "L"), live) == {"late-D1", "late-D2"}
    with login("analytics_org_admin") as admin:
        assert visible(as_user(admin, "N"), live) == {"late-E"}
        assert visible(admin, recent) == {UUID(ORG_B)}
    with login("analytics_bi_reader") as reader:
        assert visible(as_user(reader, None), live) == {"late-D1", "late-D2", "late-E"}
    with login("analytics_support") as support, pytest.raises(psycopg.errors.InsufficientPrivilege):
        support.execute(live)


def plan_nodes(plan: dict) -> list[dict]:
    """An EXPLAIN (FORMAT JSON) plan's nodes, its nested plans' included."""
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


@pytest.mark.parametrize(
    ("role", "name", "reads_by_index"),
    [("analytics_org_admin", "N", True), ("analytics_team_lead", "L", True),
     ("analytics_developer", "D1", True), ("analytics_bi_reader", None, False)],
)  # fmt: skip
def test_the_live_view_reads_a_callers_rows_of_the_store_by_index(
    warehouse, tmp_path, role, name, reads_by_index
):
    """The live view's caller filter alone (role tests unknown when the query is planned) made
    PostgreSQL read the whole live store for every caller: an organization's 40 tasks out of
    4,000 at 10 M. A caller who does not see every row now reads the store by its organization
    and user indexes (macro rows_near_caller); the BI reader reads all of it. Sequential scans
    are disabled so that the tiny test store is not read whole for being tiny."""
    if not warehouse.execute("select count(*) from staging.int_live_task_store").fetchone()[0]:
        load_paths(warehouse, [tasks_of_today(tmp_path / "later")])
    with login(role) as reader:
        as_user(reader, name)
        with reader.transaction():
            reader.execute("set local enable_seqscan = off")
            [[[plan]]] = reader.execute(
                "explain (analyze, format json) select * from analytics.live_task_executions"
            ).fetchall()
    store_reads = {
        node["Node Type"]: node["Actual Loops"]
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name") == "int_live_task_store"
        or node.get("Index Name", "").startswith("int_live_task_store_")
    }
    by_index = store_reads.get("Bitmap Index Scan", 0) > 0
    whole = store_reads.get("Seq Scan", 0) > 0
    assert (by_index, whole) == (reads_by_index, not reads_by_index), store_reads


def test_the_cached_live_summaries_show_each_caller_its_organizations_only(warehouse, tmp_path):
    """The caches are materialized views (no row-level security of their own), read through
    views that filter for the caller: an organization admin their organization, the BI reader
    every one, a developer or team lead none (the rows are organizations'), support nothing."""
    load_paths(warehouse, [tasks_of_today(tmp_path / "later")])
    assert refresh_live_summaries(warehouse) == list(CACHES)
    both = {UUID(ORG_A), UUID(ORG_B)}
    for cache in ("live_savings_today_cached", "live_last_five_minutes_cached"):
        query = f"select organization_id from analytics.{cache}"
        assert visible(warehouse, query) == both, cache  # the build role
        with login("analytics_org_admin") as admin:
            assert visible(as_user(admin, "N"), query) == {UUID(ORG_B)}, cache
            assert visible(as_user(admin, None), query) == set(), cache
        with login("analytics_bi_reader") as reader:
            assert visible(as_user(reader, None), query) == both, cache
        for role, name in (("analytics_developer", "D1"), ("analytics_team_lead", "L")):
            with login(role) as scoped:
                assert visible(as_user(scoped, name), query) == set(), (cache, role)
        with (
            login("analytics_support") as support,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            support.execute(query)


def test_policies_survive_rebuilds(warehouse):
    """A full refresh replaces the tables; the build's own transaction re-applies the policies
    and grants, and an unchanged incremental build leaves them as they are."""
    policies = (
        "select tablename, policyname from pg_policies where schemaname = 'analytics' order by 1, 2"
    )
    before = warehouse.execute(policies).fetchall()
    assert {table for table, _ in before} == {
        "organization_analytics", "organizations", "routing_decisions", "task_executions",
        "teams", "user_analytics", "users",
        # the insights by organization (docs/insights.md)
        "cost_anomalies", "routing_recommendations", "savings_forecast", "budget_status",
        "invoice_reconciliation",
    }  # fmt: skip
    build("run", "--full-refresh", "-s", "task_executions", "routing_decisions", "users+")
    build("run", "-s", "user_analytics")
    assert warehouse.execute(policies).fetchall() == before
    with login("analytics_developer") as developer:
        own = everywhere({"D3"}, {"A"}, {"T2"})
        own["organization_analytics"] = own["organization_cost_dashboard"] = set()
        assert owners(as_user(developer, "D3")) == own
