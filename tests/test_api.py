"""The reporting API (warehouse/api/) on the budgets' hand-built warehouse (tests/budgets.py), as
its users call it: keys made, listed and revoked with the real CLI, each endpoint's numbers
against what the hand computation and the marts say, row-level security through each key's
user, the cache, the refusals and the request log.

April 2026: organization A's only tasks are team lead Ada's (T1), one a day: cost 10.80,
baseline 32.40, savings 21.60 (66.67 %), 14 tasks; April 1st to 3rd (Wednesday to Friday)
1.00 of cost and 2.00 of savings each; the week of Monday April 13th, 2 tasks. One more task of
Ada's started 40 seconds ago and landed after the build: today's and the last five minutes'
savings are 2.00 (live layer). March: Ada's cost 23.60 + 4.00, Bob's 6.00 (his failed task's
cost is not counted).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from tests.budgets import ADMIN, ADMIN_B, ORG, TEAM1, U1, U2, budgets_warehouse
from tests.handbuilt import write
from warehouse import settings
from warehouse.api.app import create_app
from warehouse.api.gateway import RequestLog
from warehouse.cli import main
from warehouse.ingest.loader import load_paths
from warehouse.privacy.requests import Subject, delete_subject
from warehouse.readers import Viewer, read_as_viewer


@pytest.fixture(scope="module")
def warehouse(server, budgets_template, tmp_path_factory) -> Iterator[psycopg.Connection]:
    tmp_path = tmp_path_factory.mktemp("api")
    with budgets_warehouse(server, tmp_path, budgets_template) as connection:
        # inside today and the last five minutes (but in the first 40 s after midnight UTC)
        started = (datetime.now(UTC) - timedelta(seconds=40)).replace(microsecond=0)
        ended = started + timedelta(seconds=10)
        (tmp_path / "live").mkdir()
        write(tmp_path / "live" / "task_executions__live.csv", [{
            "id": "00000000-0000-4000-8000-000000000900", "task_id": "t-live", "user_id": U1,
            "organization_id": ORG, "task_type": "feature", "provider": "openai_codex",
            "start_time": started.isoformat(), "end_time": ended.isoformat(),
            "tokens_used": 100_000, "status": "completed", "updated_at": ended.isoformat(),
        }])  # fmt: skip
        load_paths(connection, [tmp_path / "live"])
        yield connection


KEY_CACHE_SECONDS = 1


def new_key(user: str, capsys, *extra: str) -> str:
    assert main(["api-key", "create", "--user", user, *extra]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"key \d+ for user .+ \(shown once, store it now\):", out[0])
    return out[1]


@pytest.fixture(scope="module")
def client(warehouse) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WAREHOUSE_API_KEY_CACHE_SECONDS", str(KEY_CACHE_SECONDS))
        with TestClient(create_app()) as test_client:
            yield test_client


def call(client: TestClient, token: str | None, path: str, **params: str):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(path, params=params, headers=headers)


@pytest.fixture
def admin(client, capsys) -> str:
    return new_key(ADMIN, capsys)


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["last_build_age_seconds"] >= 0
    assert client.get("/openapi.json").json()["info"]["title"] == "Generic Corp ROI warehouse API"
    docs = client.get("/docs")  # the interactive docs, with the bearer key's Authorize button
    assert (docs.status_code, "swagger-ui" in docs.text) == (200, True)
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes == {"HTTPBearer": {
        "type": "http", "scheme": "bearer", "description": "an API key: warehouse api-key create",
    }}  # fmt: skip


def test_the_organization_dashboard_is_the_marts_and_other_organizations_are_not_found(
    client, admin, capsys
):
    answer = call(client, admin, f"/v1/organizations/{ORG}/dashboard", month="2026-04")

    assert answer.status_code == 200
    assert answer.json() == {
        "organization_id": ORG, "organization_name": "Org A", "month_start": "2026-04-01",
        "total_tasks": 14, "completed_tasks": 14, "total_cost_usd": "10.80",
        "total_baseline_cost_usd": "32.40", "total_savings_usd": "21.60",
        "savings_percentage": "66.67", "baseline_provider": "github_copilot",
    }  # fmt: skip
    other = new_key(ADMIN_B, capsys)
    refused = call(client, other, f"/v1/organizations/{ORG}/dashboard", month="2026-04")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    assert "Org A" not in refused.text


def test_today_provider_comparison_team_productivity_and_series(client, admin, capsys):
    today = call(client, admin, f"/v1/organizations/{ORG}/savings/today").json()
    assert (today["completed_tasks"], today["total_savings_usd"]) == (1, "2.000000")

    providers = call(client, admin, "/v1/providers/comparison", task_type="feature",
                     month="2026-04").json()["providers"]  # fmt: skip
    assert [(row["provider"], row["total_tasks"]) for row in providers] == [("openai_codex", 14)]

    lead = new_key(U1, capsys)
    week = call(client, lead, f"/v1/teams/{TEAM1}/productivity", week="2026-04-13").json()
    assert [(row["user_name"], row["total_tasks"], row["task_rank"])
            for row in week["developers"]] == [("Ada", 2, 1)]  # fmt: skip

    series = call(client, admin, f"/v1/organizations/{ORG}/series", start="2026-04-01",
                  end="2026-04-03").json()  # fmt: skip
    assert [(row["metric_date"], row["total_cost_usd"], row["total_savings_usd"])
            for row in series["rows"]] == [
        ("2026-04-01", "1.00", "2.00"), ("2026-04-02", "1.00", "2.00"),
        ("2026-04-03", "1.00", "2.00"),
    ]  # fmt: skip
    monthly = call(client, admin, f"/v1/organizations/{ORG}/series", start="2026-03-01",
                   end="2026-04-30", grain="monthly", format="csv")  # fmt: skip
    assert monthly.headers["content-type"].startswith("text/csv")
    assert monthly.text.splitlines()[0] == (
        "metric_date,period_end,total_tasks,completed_tasks,total_cost_usd,"
        "total_baseline_cost_usd,total_savings_usd,savings_percentage"
    )
    assert monthly.text.splitlines()[2] == "2026-04-01,2026-05-01,14,14,10.80,32.40,21.60,66.67"


def test_each_identity_sees_its_rows_and_never_shares_a_cached_answer(client, admin, capsys):
    developer = new_key(U2, capsys)
    path = f"/v1/organizations/{ORG}/series"
    params = {"start": "2026-04-01", "end": "2026-04-04"}  # asked by nobody before

    first, again = (call(client, admin, path, **params) for _ in range(2))
    as_developer = call(client, developer, path, **params)

    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert as_developer.headers["x-cache"] == "miss"
    assert len(first.json()["rows"]) == 4
    assert as_developer.json()["rows"] == []  # the organization's rollup is for its admins


def test_keys_are_listed_without_secrets_revoked_and_expired(client, warehouse, capsys):
    token = new_key(U1, capsys, "--expires", "2099-01-01")
    assert call(client, token, f"/v1/organizations/{ORG}/savings/today").status_code == 200
    (key_id,) = warehouse.execute(
        "select key_id from api.keys where prefix = %s", (token.split("_")[1],)
    ).fetchone()

    assert main(["api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert token.split("_")[1] in listing
    assert token not in listing
    assert warehouse.execute(
        "select count(*) from api.keys where key_hash = %s or prefix = %s", (token, token)
    ).fetchone() == (0,)

    assert main(["api-key", "revoke", str(key_id)]) == 0
    assert capsys.readouterr().out == f"key {key_id} revoked\n"
    time.sleep(KEY_CACHE_SECONDS + 0.2)  # a valid key is remembered that long
    revoked = call(client, token, f"/v1/organizations/{ORG}/savings/today")
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "unauthorized")

    expiring = new_key(U1, capsys, "--expires", "2099-01-01")
    warehouse.execute(
        "update api.keys set expires_at = now() - interval '1 second' where prefix = %s",
        (expiring.split("_")[1],),
    )
    assert call(client, expiring, "/v1/providers/comparison", task_type="feature",
                month="2026-04").status_code == 401  # fmt: skip
    assert call(client, None, "/v1/providers/comparison").status_code == 401
    assert call(client, "gcw_nothing_here", "/v1/providers/comparison").status_code == 401
    assert main(["api-key", "create", "--user", "nope"]) == 1
    assert "--user must be a user id (a UUID), not 'nope'" in capsys.readouterr().err


def test_requests_that_arrive_while_a_key_is_looked_up_wait_for_that_one_lookup(
    client, warehouse, capsys
):
    token = new_key(U1, capsys)
    path = f"/v1/organizations/{ORG}/savings/today"
    waiting = (
        "select count(*) from pg_stat_activity where datname = current_database() "
        "and wait_event_type = 'Lock' and query like '%%from api.keys%%'"
    )
    with (
        psycopg.connect(**settings.connection().keywords()) as holder,
        ThreadPoolExecutor(max_workers=12) as callers,
    ):
        holder.execute("lock table api.keys in access exclusive mode")  # the lookup waits
        answers = [callers.submit(call, client, token, path) for _ in range(12)]
        deadline, seen = time.monotonic() + 10, []
        while time.monotonic() < deadline and (len(seen) < 5 or seen[-1] == 0):
            time.sleep(0.1)
            seen.append(warehouse.execute(waiting).fetchone()[0])
        holder.commit()
        statuses = [answer.result(timeout=30).status_code for answer in answers]

    assert seen[-1] == 1  # one lookup for the twelve requests, not one per pooled connection
    assert statuses == [200] * 12


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "field"),
    [
        (f"/v1/organizations/{ORG}/dashboard", {"month": "2026-13"}, 422, "invalid_parameter",
         "month"),
        ("/v1/organizations/not-a-uuid/dashboard", {"month": "2026-04"}, 422,
         "invalid_parameter", "organization_id"),
        (f"/v1/teams/{TEAM1}/productivity", {"week": "2026-04-14"}, 422, "invalid_parameter",
         "week"),
        (f"/v1/organizations/{ORG}/series", {"start": "2025-01-01", "end": "2026-04-30"}, 422,
         "range_too_long", "end"),
        ("/v1/providers/comparison", {"task_type": "feature' or 1=1 --", "month": "2026-04"},
         422, "invalid_parameter", "task_type"),
        (f"/v1/organizations/{ORG}'; drop table analytics.users; --/dashboard",
         {"month": "2026-04"}, 422, "invalid_parameter", "organization_id"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_the_field_and_a_stable_code(
    client, admin, warehouse, path, params, status, code, field
):
    answer = call(client, admin, path, **params)

    assert answer.status_code == status
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (code, field)
    assert warehouse.execute("select count(*) from analytics.users").fetchone()[0] > 0


def test_every_request_is_recorded_without_the_key(client, admin, warehouse):
    path = f"/v1/organizations/{ORG}/dashboard"
    statuses = [call(client, admin, path, month="2026-02").status_code for _ in range(2)]
    statuses.append(call(client, admin + "x", path, month="2026-02").status_code)
    assert statuses == [404, 404, 401]  # no tasks that month: the 404 is cached too

    deadline = time.monotonic() + 10  # the log is written each second, off the request's path
    rows: list[tuple] = []
    while len(rows) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = warehouse.execute(
            "select endpoint, status, user_id::text from api.requests "
            "where key_id = (select key_id from api.keys where prefix = %s) "
            "or (endpoint = %s and status = 401) order by request_id",
            (admin.split("_")[1], path),
        ).fetchall()
    assert rows == [
        ("/v1/organizations/{organization_id}/dashboard", 404, ADMIN),
        ("/v1/organizations/{organization_id}/dashboard", 404, ADMIN),
        (path, 401, None),  # refused before routing: the path as asked
    ]
    assert warehouse.execute(
        "select count(*) from api.requests where endpoint like '%gcw_%' or method like '%gcw_%'"
    ).fetchone() == (0,)


def test_the_last_five_minutes_and_the_metrics_query(client, admin, capsys):
    recent = call(client, admin, f"/v1/organizations/{ORG}/last-five-minutes").json()
    assert [(row["provider"], row["started_tasks"], row["completed_tasks"],
             row["total_savings_usd"]) for row in recent["providers"]] == [
        ("openai_codex", 1, 1, "2.000000")
    ]  # fmt: skip

    wanted = "cost_usd,savings_usd,savings_percentage,active_developers"
    april = call(client, admin, "/v1/metrics", start="2026-04-01", end="2026-04-30",
                 metrics=wanted).json()  # fmt: skip
    assert april == {"grain": "monthly", "page": 1, "page_size": 1000, "next_page": None,
                     "rows": [{"period": "2026-04-01", "cost_usd": "10.80", "savings_usd": "21.60",
                               "savings_percentage": "66.67", "active_developers": 1}]}  # fmt: skip
    march = {"start": "2026-03-01", "end": "2026-03-31"}
    by_user = call(client, admin, "/v1/metrics", **march, metrics="cost_usd,tasks",
                   group_by="user", organization_id=ORG).json()  # fmt: skip
    assert [(row["user"], row["cost_usd"], row["tasks"]) for row in by_user["rows"]] == [
        (U1, "27.60", 31),
        (U2, "6.00", 2),
    ]
    developer = new_key(U2, capsys)
    own = call(client, developer, "/v1/metrics", start="2026-03-01", end="2026-03-31",
               metrics="cost_usd", format="csv")  # fmt: skip
    assert own.text.splitlines() == ["period,cost_usd", "2026-03-01,6.00"]


@pytest.mark.parametrize(
    ("params", "code", "field", "names"),
    [
        ({"metrics": "cost_usd,profit"}, "unknown_metric", "metrics", "profit; valid: tasks"),
        ({"metrics": "cost_usd", "group_by": "provider"}, "unknown_dimension", "group_by",
         "provider; valid: organization, user"),
    ],
)  # fmt: skip
def test_unknown_metrics_and_dimensions_are_refused_listing_the_valid_ones(
    client, admin, params, code, field, names
):
    answer = call(client, admin, "/v1/metrics", start="2026-03-01", end="2026-03-31", **params)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert names in error["message"]


def test_long_answers_come_a_page_at_a_time_up_to_the_page_limit(client, admin, monkeypatch):
    path = f"/v1/organizations/{ORG}/series"
    april = {"start": "2026-04-01", "end": "2026-04-03"}

    first = call(client, admin, path, **april, page_size="2").json()
    second = call(client, admin, path, **april, page_size="2", page="2").json()
    as_csv = call(client, admin, path, **april, page_size="2", format="csv")
    by_user = call(client, admin, "/v1/metrics", start="2026-03-01", end="2026-03-31",
                   metrics="tasks", group_by="user", page_size="1", page="2").json()  # fmt: skip
    too_large = call(client, admin, path, **april, page_size="1001")

    assert [row["metric_date"] for row in first["rows"]] == ["2026-04-01", "2026-04-02"]
    assert (first["page"], first["page_size"], first["next_page"]) == (1, 2, 2)
    assert [row["metric_date"] for row in second["rows"]] == ["2026-04-03"]
    assert second["next_page"] is None
    assert as_csv.headers["x-next-page"] == "2"
    assert len(as_csv.text.splitlines()) == 3  # the header and two days
    assert [(row["user"], row["tasks"]) for row in by_user["rows"]] == [(U2, 2)]
    assert by_user["next_page"] is None
    assert too_large.status_code == 422
    assert too_large.json()["error"] == {
        "code": "page_too_large", "field": "page_size",
        "message": "page_size: 1001 rows asked; the limit is 1000 (WAREHOUSE_API_MAX_PAGE_SIZE)",
    }  # fmt: skip


def test_a_deleted_user_leaves_no_key_and_no_request_behind(
    server, budgets_template, tmp_path, capsys
):
    with budgets_warehouse(server, tmp_path, budgets_template) as connection:
        token = new_key(U2, capsys)
        with TestClient(create_app()) as own:  # the request log is written when it stops
            path = f"/v1/organizations/{ORG}/savings/today"
            assert call(own, token, path).status_code == 200
        by_user = ("select (select count(*) from api.keys where user_id = %(user)s), "
                   "(select count(*) from api.requests where user_id = %(user)s)")  # fmt: skip
        assert connection.execute(by_user, {"user": U2}).fetchone() == (1, 1)

        deleted = delete_subject(connection, Subject("user", UUID(U2)), requested_by="dpo")

        assert (deleted.row_counts["api.keys"], deleted.row_counts["api.requests"]) == (1, 1)
        assert connection.execute(by_user, {"user": U2}).fetchone() == (0, 0)


def test_each_read_runs_as_its_viewer_in_one_transaction_and_leaves_the_connection_clean(
    warehouse,
):
    """The API's reads send begin, the viewer's role and identity, the queries and commit in one
    round trip: the queries run as the viewer, and nothing of it stays on the pooled connection,
    also once psycopg prepares the statement (its 6th run) and after a failing query."""
    who = Viewer(UUID(U2), "Bob", "developer", "Org A")
    identity = "select current_user::text as role, current_setting('app.user_id') as user_id"
    own_rows = "select count(*) as tasks from analytics.task_executions where user_id = %(user)s"
    login = "select current_user::text, current_setting('app.user_id', true)"

    async def reads() -> list:
        keywords = {**settings.connection().keywords(), "autocommit": True}
        async with await psycopg.AsyncConnection.connect(**keywords) as connection:
            seen = [await read_as_viewer(connection, who, (identity, {})) for _ in range(7)]
            seen.append(
                await read_as_viewer(connection, who, (own_rows, {"user": U1}), (identity, {}))
            )
            seen.append(await (await connection.execute(login)).fetchone())
            with pytest.raises(psycopg.errors.DivisionByZero):
                await read_as_viewer(connection, who, ("select 1 / 0", {}))
            seen.append(connection.info.transaction_status.name)
            seen.append(await (await connection.execute(login)).fetchone())
        async with await psycopg.AsyncConnection.connect(**settings.connection().keywords()) as c:
            with pytest.raises(ValueError, match="autocommit"):
                await read_as_viewer(c, who, (identity, {}))
        return seen

    seen = asyncio.run(reads())

    as_developer = [{"role": "analytics_developer", "user_id": U2}]
    assert seen[:7] == [[as_developer]] * 7
    # another person's tasks: row-level security hides them; a second query in the same trip
    assert seen[7] == [[{"tasks": 0}], as_developer]
    login_role = settings.connection().user
    assert seen[8] in ((login_role, ""), (login_role, None))
    assert seen[9:] == ["IDLE", seen[8]]


def test_the_request_log_loses_no_row_when_the_api_stops_during_a_write(client, warehouse):
    """The API stops while the log's writer is in the middle of a COPY (here, waiting for a
    lock on api.requests): the rows of that write are written, not dropped with it."""
    endpoint = "/v1/stopping-during-a-write"
    waiting = (
        "select count(*) from pg_stat_activity where datname = current_database() "
        "and wait_event_type = 'Lock' and query like 'copy api.requests%%'"
    )

    async def stop_during_a_write() -> None:
        keywords = settings.connection().keywords()
        pool = AsyncConnectionPool(kwargs={**keywords, "autocommit": True}, min_size=1,
                                   max_size=2, open=False)  # fmt: skip
        await pool.open(wait=True)
        log = RequestLog(pool, interval=0.05)
        async with await psycopg.AsyncConnection.connect(**keywords) as holder:
            await holder.execute("lock table api.requests in access exclusive mode")
            log.start()
            for _ in range(5):
                log.add(None, "GET", endpoint, 200, datetime.now(UTC), 1.0)
            deadline = time.monotonic() + 10
            while not warehouse.execute(waiting).fetchone()[0]:
                assert time.monotonic() < deadline, "the writer's COPY never waited"
                await asyncio.sleep(0.05)
            closing = asyncio.create_task(log.close())
            await asyncio.sleep(0.2)  # the API is stopping while the COPY waits
            await holder.commit()
        await closing
        await pool.close()

    asyncio.run(stop_during_a_write())

    assert warehouse.execute(
        "select count(*) from api.requests where endpoint = %s", (endpoint,)
    ).fetchone() == (5,)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real redis-server (Debian's) on a free port of 127.0.0.1, for the module."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_with_redis_two_api_processes_share_answers_but_identities_never_do(
    warehouse, redis_url, admin, capsys, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    developer = new_key(U2, capsys)
    path = f"/v1/organizations/{ORG}/series"
    params = {"start": "2026-04-05", "end": "2026-04-06"}  # asked by nobody before

    with TestClient(create_app()) as first, TestClient(create_app()) as second:
        answers = [
            call(first, admin, path, **params),
            call(second, admin, path, **params),  # another process: Redis answers
            call(second, developer, path, **params),  # another identity: never shared
        ]

    assert [answer.headers["x-cache"] for answer in answers] == ["miss", "hit", "miss"]
    assert answers[0].json() == answers[1].json()
    assert len(answers[0].json()["rows"]) == 2
    assert answers[2].json()["rows"] == []
    stored = redis.Redis.from_url(redis_url).keys("warehouse-api:*")
    assert len(stored) == 2
    assert not any(admin.encode() in key or developer.encode() in key for key in stored)
