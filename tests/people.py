"""A small hand-built warehouse of people, for the privacy tests (access control, export and
deletion).

Org A: team T1 = lead L (team_lead), developers D1 and D2; team T2 = developer D3; admin M
(org_admin, in no team); X (developer) was deleted. Org B: admin N, developer E.
Each user has one completed task on 2026-03-01 (``task_id(name)``) with one routing decision;
costs do not matter here, rows do.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.conftest import (
    create_database,
    database_environment,
    database_for_module,
    drop_database,
)
from warehouse import settings
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths
from warehouse.privacy.pseudonyms import KEY_VARIABLE

AS_OF = "2026-03-02T00:00:00+00:00"
ORG_A, ORG_B = "0000000a-0000-4000-8000-000000000000", "0000000b-0000-4000-8000-000000000000"
T1, T2, TB = (f"000000{n}-0000-4000-8000-000000000000" for n in ("e1", "e2", "eb"))
USERS = {  # name: (organization, team, role, deleted)
    "M": (ORG_A, "", "org_admin", False),
    "L": (ORG_A, T1, "team_lead", False),
    "D1": (ORG_A, T1, "developer", False),
    "D2": (ORG_A, T1, "developer", False),
    "D3": (ORG_A, T2, "developer", False),
    "X": (ORG_A, T1, "developer", True),
    "N": (ORG_B, "", "org_admin", False),
    "E": (ORG_B, TB, "developer", False),
}
NAMES = list(USERS)


def user_id(name: str) -> str:
    return f"{NAMES.index(name) + 1:08d}-0000-4000-8000-00000000000a"


def task_id(name: str) -> str:
    return f"{NAMES.index(name) + 1:08d}-0000-4000-8000-00000000000b"


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def build_landing(landing: Path) -> None:
    landing.mkdir()
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A", "pricing_tier": "standard"},
        {"id": ORG_B, "name": "Org B", "pricing_tier": "enterprise"},
    ])  # fmt: skip
    write(landing / "teams.csv", [
        {"id": T1, "organization_id": ORG_A, "name": "T1"},
        {"id": T2, "organization_id": ORG_A, "name": "T2"},
        {"id": TB, "organization_id": ORG_B, "name": "TB"},
    ])  # fmt: skip
    write(landing / "users.csv", [
        {"id": user_id(name), "organization_id": org, "team_id": team, "role": role,
         "name": f"User {name}", "email": f"{name.lower()}@example.com",
         "created_at": "2026-01-01T00:00:00Z",
         "deleted_at": "2026-02-01T00:00:00Z" if deleted else ""}
        for name, (org, team, role, deleted) in USERS.items()
    ])  # fmt: skip
    write(landing / "provider_pricing.csv", [
        {"id": "10000000-0000-4000-8000-000000000001", "provider": "github_copilot",
         "cost_per_token": "0.00001", "cost_per_request": "0.001",
         "effective_from": "2026-01-01T00:00:00Z"},
    ])  # fmt: skip
    write(landing / "task_executions.csv", [
        {"id": task_id(name), "task_id": f"task-{name}", "user_id": user_id(name),
         "organization_id": org, "task_type": "bug_fix", "provider": "github_copilot",
         "start_time": "2026-03-01T10:00:00Z", "end_time": "2026-03-01T10:01:00Z",
         "tokens_used": 100, "status": "completed", "updated_at": "2026-03-01T10:01:00Z"}
        for name, (org, _, _, _) in USERS.items()
    ])  # fmt: skip
    write(landing / "routing_decisions.csv", [
        {"id": task_id(name).replace("b", "c"), "task_execution_id": task_id(name),
         "chosen_provider": "github_copilot", "decision_timestamp": "2026-03-01T09:59:59Z",
         "created_at": "2026-03-01T10:01:00Z"}
        for name in USERS
    ])  # fmt: skip


def build(*args: str) -> None:
    """A dbt command on the current database, as of AS_OF."""
    run_dbt(args, as_of=AS_OF)


PSEUDONYM_KEY = "a key for the tests only"


@contextmanager
def build_people(server: settings.ConnectionSettings, tmp_path: Path) -> Iterator[str]:
    """A database holding the people above, loaded and built (the support schema's pseudonyms
    under PSEUDONYM_KEY), with no session left, so that it can serve as a template; yields its
    name (the environment is as before), dropped afterwards."""
    name = create_database(server)
    try:
        with database_environment(
            server, name, tmp_path, {KEY_VARIABLE: PSEUDONYM_KEY}
        ) as connection:
            build_landing(tmp_path / "landing")
            results = load_paths(connection, [tmp_path / "landing"])
            assert [result.rows_rejected for result in results] == [0] * 6
            build("build")
        yield name
    finally:
        drop_database(server, name)


@contextmanager
def built_warehouse(
    server: settings.ConnectionSettings,
    tmp_path: Path,
    template: str,
    environment: dict[str, str] | None = None,
) -> Iterator[psycopg.Connection]:
    """A copy of the people's built warehouse (``template``: fixture people_template), with
    ``environment`` set meanwhile; dropped afterwards."""
    with database_for_module(server, tmp_path, environment, template=template) as connection:
        yield connection
