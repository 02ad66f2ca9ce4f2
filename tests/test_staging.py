"""Staging on a small hand-built dataset: newest version wins, flags are exact.

Files are delivered out of order on purpose: newer versions first, older ones later,
duplicates in between. Every expected value below is worked out by hand from the rows.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from warehouse.ingest.loader import load_paths

ORG = "00000000-0000-4000-8000-000000000001"
TEAM = "00000000-0000-4000-8000-000000000011"
USER_1 = "00000000-0000-4000-8000-000000000101"
USER_2 = "00000000-0000-4000-8000-000000000102"
PRICE = "00000000-0000-4000-8000-000000000201"
DECISION = "00000000-0000-4000-8000-000000000301"


def task_id(letter: str) -> str:
    return f"00000000-0000-4000-8000-0000000009{ord(letter):02x}"


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def task(letter: str, status: str, updated_at: str, **fields: object) -> dict[str, object]:
    row = {
        "id": task_id(letter),
        "task_id": f"TASK-{letter}",
        "user_id": USER_1,
        "organization_id": ORG,
        "task_type": "bug_fix",
        "provider": "OpenAI_Codex",
        "start_time": "2026-03-01T10:00:00Z",
        "end_time": "",
        "tokens_used": "100",
        "cost_usd": "0.5",
        "status": status,
        "updated_at": updated_at,
    }
    row.update(fields)
    return row


def build_landing(directory: Path) -> list[Path]:
    """Three deliveries, loaded in this order."""
    first, second, third = (directory / name for name in ("d1", "d2", "d3"))
    for folder in (first, second, third):
        folder.mkdir()
    org = {"id": ORG, "name": "Acme", "pricing_tier": "standard", "default_provider": ""}
    write(
        first / "organizations.csv",
        [{**org, "pricing_tier": "Premium", "updated_at": "2026-02-01T00:00:00Z"}],
    )
    write(second / "organizations.csv", [{**org, "updated_at": "2026-01-01T00:00:00Z"}])
    write(first / "teams.csv", [{"id": TEAM, "organization_id": ORG, "name": "Core"}])
    write(first / "users.csv", [
        {"id": USER_1, "organization_id": ORG, "team_id": TEAM, "name": "Ada",
         "email": " Ada@Example.com ", "role": "Developer", "deleted_at": ""},
        {"id": USER_2, "organization_id": ORG, "team_id": TEAM, "name": "Bo",
         "email": "bo@example.com", "role": "team_lead", "deleted_at": "2026-02-15T00:00:00Z"},
    ])  # fmt: skip
    write(first / "provider_pricing.csv", [
        {"id": PRICE, "provider": "openai_codex", "task_type": "", "cost_per_token": "0.00001",
         "effective_from": "2026-01-01T00:00:00Z", "effective_until": ""},
    ])  # fmt: skip
    completed_a = task("A", "completed", "2026-03-01T10:02:05Z", end_time="2026-03-01T10:02:00Z")
    write(first / "task_executions.csv", [
        task("A", "pending", "2026-03-01T10:00:00Z"),
        task("A", "running", "2026-03-01T10:00:05Z"),
        completed_a,
        task("B", "completed", "2026-03-01T11:00:00Z", end_time="2026-03-01T10:30:00Z"),
        task("C", "running", "2026-03-01T10:05:00Z"),
        task("C", "completed", "2026-03-01T10:05:00Z", end_time="2026-03-01T10:05:00Z"),
        task("D", "CANCELLED", "2026-03-01T10:01:00Z"),
        task("E", "completed", "2026-03-01T10:01:00Z", end_time="2026-03-01T10:01:00Z",
             cost_usd="-1"),
        task("F", "failed", "2026-03-01T10:01:00Z", end_time="2026-03-01T09:59:00Z"),
        task("G", "completed", "2026-03-01T10:01:00Z"),
        task("H", "completed", "2026-03-01T10:01:00Z", end_time="2026-03-01T10:00:01.5Z",
             cost_usd="", tokens_used=""),
    ])  # fmt: skip
    write(second / "task_executions.csv", [
        completed_a,  # an exact duplicate
        task("B", "running", "2026-03-01T10:00:01Z"),  # an older version, delivered late
    ])  # fmt: skip
    write(first / "routing_decisions.csv", [
        {"id": DECISION, "task_execution_id": task_id("A"), "chosen_provider": "openai_codex",
         "decision_timestamp": "2026-03-01T09:59:59Z", "predicted_cost": "0.4",
         "created_at": "2026-03-01T10:03:00Z"},
    ])  # fmt: skip
    write(third / "routing_decisions.csv", [
        {"id": DECISION, "task_execution_id": task_id("A"), "chosen_provider": "openai_codex",
         "decision_timestamp": "2026-03-01T09:59:59Z", "predicted_cost": "0.3",
         "created_at": "2026-03-01T09:59:59Z"},
    ])  # fmt: skip
    return [first, second, third]


def test_staging_keeps_the_newest_version_and_flags_hard_rules(connection, dbt, tmp_path):
    for delivery in build_landing(tmp_path):
        load_paths(connection, [delivery])

    dbt("build", "--select", "staging")

    tasks = {
        row[0]: row[1:]
        for row in connection.execute(
            """
            select task_id, status, duration_ms, version_count, provider, tokens_used,
                has_unknown_status, has_negative_reported_cost, is_missing_reported_cost,
                has_end_before_start, is_completed_without_end
            from staging.stg_platform__task_executions
            """
        )
    }
    f, t = False, True
    assert tasks == {
        # task: status, duration_ms, versions, provider, tokens, 5 flags
        "TASK-A": ("completed", 120_000, 4, "openai_codex", 100, f, f, f, f, f),
        "TASK-B": ("completed", 1_800_000, 2, "openai_codex", 100, f, f, f, f, f),
        "TASK-C": ("completed", 300_000, 2, "openai_codex", 100, f, f, f, f, f),
        "TASK-D": ("cancelled", None, 1, "openai_codex", 100, t, f, f, f, f),
        "TASK-E": ("completed", 60_000, 1, "openai_codex", 100, f, t, f, f, f),
        "TASK-F": ("failed", None, 1, "openai_codex", 100, f, f, f, t, f),
        "TASK-G": ("completed", None, 1, "openai_codex", 100, f, f, f, f, t),
        "TASK-H": ("completed", 1_500, 1, "openai_codex", 0, f, f, t, f, f),
    }
    assert connection.execute(
        "select organization_name, pricing_tier, default_provider "
        "from staging.stg_platform__organizations"
    ).fetchall() == [("Acme", "premium", None)]
    assert connection.execute(
        "select user_name, email, role, is_deleted from staging.stg_platform__users "
        "order by user_name"
    ).fetchall() == [
        ("Ada", "ada@example.com", "developer", False),
        ("Bo", "bo@example.com", "team_lead", True),
    ]
    assert connection.execute(
        "select predicted_cost_usd::text, version_count, decided_at "
        "from staging.stg_platform__routing_decisions"
    ).fetchall() == [("0.4", 2, datetime(2026, 3, 1, 9, 59, 59, tzinfo=UTC))]
    assert connection.execute(
        "select provider, task_type, is_open_ended, has_empty_window "
        "from staging.stg_platform__provider_pricing"
    ).fetchall() == [("openai_codex", None, True, False)]


def test_reloading_every_file_with_force_changes_no_staging_row(connection, dbt, tmp_path):
    deliveries = build_landing(tmp_path)
    for delivery in deliveries:
        load_paths(connection, [delivery])
    dbt("build", "--select", "staging")
    query = (
        "select task_execution_id, status, duration_ms, started_at, ended_at "
        "from staging.stg_platform__task_executions order by 1"
    )
    before = connection.execute(query).fetchall()

    for delivery in reversed(deliveries):
        load_paths(connection, [delivery], force=True)

    assert connection.execute(query).fetchall() == before
