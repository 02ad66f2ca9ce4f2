"""``--chaos``: every kind of bad row, each kind a known count recorded in the manifest.

Three families:
- rejections: rows the loader cannot parse (they end in ``raw.rejected_rows``);
- quarantine: rows that parse but whose newest version breaks exactly one hard rule;
- delivery faults: duplicates, out-of-order versions, invalid status transitions, a provider
  without any price, completed tasks without a reported cost.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Protocol

from warehouse.synthetic.entities import GeneratorConfig, Organization, Row
from warehouse.synthetic.writers import RAW_LINE


class TaskMaker(Protocol):
    """What the chaos step needs of the generator (which imports this module)."""

    config: GeneratorConfig
    rng: random.Random
    start: datetime
    end: datetime

    def moment_between(self, low: datetime, high: datetime) -> datetime: ...

    def task(
        self, organization: Organization, user: Row, started: datetime, pricing: list[Row]
    ) -> tuple[list[Row], list[Row]]: ...


UNPRICED_PROVIDER = "anthropic_claude"

REJECTION_KINDS = {
    # kind: (column, bad value); bad_json in JSONL files is a line that is not JSON at all
    "bad_uuid": ("id", "not-a-uuid"),
    "bad_timestamp": ("start_time", "2026-13-45T99:00:00Z"),
    "bad_number": ("cost_usd", "12,50"),
    "bad_integer": ("tokens_used", "1.5k"),
    "missing_required_field": ("provider", None),
    "bad_json": ("alternative_providers", '["github_copilot",'),
}
QUARANTINE_KINDS = (
    "negative_cost",
    "end_before_start",
    "completed_without_end",
    "unknown_organization",
    "unknown_user",
    "unknown_status",
)
FAULT_KINDS = (
    "duplicate_versions",
    "out_of_order_versions",
    "invalid_transitions",
    "unpriced_provider_tasks",
    "null_cost_tasks",
)


def add_chaos(generator: TaskMaker, files: dict[str, list[Row]],
              organizations: list[Organization], pricing: list[Row],
              task_ids: set[str]) -> dict[str, int]:  # fmt: skip
    """Add the bad rows to ``files`` in place; return the count per kind."""
    rng = generator.rng
    per_kind = max(2, generator.config.orgs)
    task_files = sorted(name for name in files if name.startswith("task_executions__"))
    counts: dict[str, int] = {}
    # Duplicates copy clean completed versions, chosen before any bad row is added.
    clean_completed = [(name, row) for name in task_files for row in files[name]
                    if RAW_LINE not in row and row.get("status") == "completed"]  # fmt: skip

    def fresh_task(kind: str) -> tuple[list[Row], str]:
        organization = rng.choice(organizations)
        started = generator.moment_between(generator.start, generator.end - timedelta(days=1))
        # a member on that day, so only the intended rule is broken
        user = rng.choice([u for u in organization.users
                           if u["deleted_at"] is None and u["created_at"] <= started])  # fmt: skip
        versions, _ = generator.task(organization, user, started, pricing)
        while versions[-1]["status"] != "completed":
            versions, _ = generator.task(organization, user, started, pricing)
        task_ids.add(versions[0]["id"])
        return versions, rng.choice(task_files)

    for kind, (column, value) in REJECTION_KINDS.items():
        for _ in range(per_kind):
            versions, file_name = fresh_task(kind)
            task_ids.discard(versions[0]["id"])
            bad = {**versions[-1], column: value}
            if kind == "bad_json" and generator.config.file_format == "jsonl":
                bad = {RAW_LINE: '{"id": "' + bad["id"] + '", "status": "completed",'}
            files[file_name].append(bad)
        counts[f"rejected_{kind}"] = per_kind

    for kind in QUARANTINE_KINDS:
        for _ in range(per_kind):
            versions, file_name = fresh_task(kind)
            final = versions[-1]
            if kind == "negative_cost":
                final["cost_usd"] = "-0.050000"
            elif kind == "end_before_start":
                final["end_time"] = final["start_time"] - timedelta(minutes=1)
                final["duration_ms"] = None
            elif kind == "completed_without_end":
                final["end_time"] = None
                final["duration_ms"] = None
            elif kind == "unknown_organization":
                unknown = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                for version in versions:
                    version["organization_id"] = unknown
            elif kind == "unknown_user":
                unknown = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                for version in versions:
                    version["user_id"] = unknown
            elif kind == "unknown_status":
                final["status"] = "cancelled"
            files[file_name].extend(versions)
        counts[f"quarantine_{kind}"] = per_kind

    for _name, row in rng.sample(clean_completed, per_kind):
        # re-delivered in the last file: a pure duplicate, never ahead of the task's older
        # versions (that would be an out-of-order arrival, a kind of its own)
        files[task_files[-1]].append(dict(row))
    counts["duplicate_versions"] = per_kind

    last_day = generator.config.end_date
    for _ in range(per_kind):
        versions, _ = fresh_task("out_of_order")
        newest = versions[-1]
        delivered = min(newest["updated_at"].date(), last_day - timedelta(days=1))
        # The newest version arrives on its day, the older ones only in the last delivery.
        files[f"task_executions__{delivered.isoformat()}"].append(newest)
        files[task_files[-1]].extend(versions[:-1])
    counts["out_of_order_versions"] = per_kind

    for _ in range(per_kind):
        versions, file_name = fresh_task("invalid_transition")
        final = versions[-1]
        reopened = {**final, "status": "running", "end_time": None,
                    "updated_at": final["updated_at"] + timedelta(seconds=30)}  # fmt: skip
        files[file_name].extend([*versions, reopened])  # completed -> running
    counts["invalid_transitions"] = per_kind

    for _ in range(per_kind):
        versions, file_name = fresh_task("unpriced")
        for version in versions:
            version["provider"] = UNPRICED_PROVIDER
        files[file_name].extend(versions)
    counts["unpriced_provider_tasks"] = per_kind

    for _ in range(per_kind):
        versions, file_name = fresh_task("null_cost")
        versions[-1]["cost_usd"] = None
        files[file_name].extend(versions)
    counts["null_cost_tasks"] = per_kind
    return counts
