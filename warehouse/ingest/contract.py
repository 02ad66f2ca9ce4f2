"""The landing contract: which columns each raw table accepts, their types, which are required.

This is the one place that names the landing columns. The loader validates files against it,
the migrations create matching tables, and the generator writes files that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ColumnType(Enum):
    UUID = "uuid"
    TEXT = "text"
    TIMESTAMPTZ = "timestamptz"
    NUMERIC = "numeric"
    INTEGER = "integer"
    BIGINT = "bigint"
    JSONB = "jsonb"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    sanitize: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


UUID, TEXT, TS, NUM, INT, BIGINT, JSON = (
    ColumnType.UUID,
    ColumnType.TEXT,
    ColumnType.TIMESTAMPTZ,
    ColumnType.NUMERIC,
    ColumnType.INTEGER,
    ColumnType.BIGINT,
    ColumnType.JSONB,
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "organizations",
            (
                Column("id", UUID, required=True),
                Column("name", TEXT, required=True),
                Column("pricing_tier", TEXT),
                Column("default_provider", TEXT),
                Column("retention_days", INT),
                Column("created_at", TS),
                Column("updated_at", TS),
            ),
        ),
        Table(
            "teams",
            (
                Column("id", UUID, required=True),
                Column("organization_id", UUID, required=True),
                Column("name", TEXT, required=True),
                Column("created_at", TS),
                Column("updated_at", TS),
            ),
        ),
        Table(
            "users",
            (
                Column("id", UUID, required=True),
                Column("organization_id", UUID, required=True),
                Column("team_id", UUID),
                Column("name", TEXT),
                Column("email", TEXT),
                Column("role", TEXT),
                Column("created_at", TS),
                Column("updated_at", TS),
                Column("deleted_at", TS),
            ),
        ),
        Table(
            "provider_pricing",
            (
                Column("id", UUID, required=True),
                Column("provider", TEXT, required=True),
                Column("task_type", TEXT),
                Column("cost_per_token", NUM),
                Column("cost_per_request", NUM),
                Column("cost_per_minute", NUM),
                Column("pricing_tier", TEXT),
                Column("effective_from", TS, required=True),
                Column("effective_until", TS),
                Column("created_at", TS),
                Column("notes", TEXT),
            ),
        ),
        Table(
            "task_executions",
            (
                Column("id", UUID, required=True),
                Column("task_id", TEXT, required=True),
                Column("user_id", UUID, required=True),
                Column("organization_id", UUID, required=True),
                Column("task_type", TEXT, required=True),
                Column("task_description", TEXT, sanitize=True),
                Column("code_language", TEXT),
                Column("provider", TEXT, required=True),
                Column("routing_reason", TEXT),
                Column("alternative_providers", JSON),
                Column("start_time", TS, required=True),
                Column("end_time", TS),
                Column("duration_ms", BIGINT),
                Column("tokens_used", BIGINT),
                Column("cost_usd", NUM),
                Column("baseline_cost_usd", NUM),
                Column("savings_usd", NUM),
                Column("status", TEXT, required=True),
                Column("error_message", TEXT, sanitize=True),
                Column("created_at", TS),
                Column("updated_at", TS, required=True),
            ),
        ),
        Table(
            "routing_decisions",
            (
                Column("id", UUID, required=True),
                Column("task_execution_id", UUID, required=True),
                Column("chosen_provider", TEXT, required=True),
                Column("decision_timestamp", TS, required=True),
                Column("alternative_providers", JSON),
                Column("routing_algorithm_version", TEXT),
                Column("decision_factors", JSON),
                Column("predicted_cost", NUM),
                Column("predicted_duration_ms", BIGINT),
                Column("predicted_quality_score", NUM),
                Column("actual_cost", NUM),
                Column("actual_duration_ms", BIGINT),
                Column("actual_quality_score", NUM),
                Column("created_at", TS),
            ),
        ),
        # Beyond the specification (docs/insights.md): monthly budgets per organization, or per
        # team when team_id is set; budget_month is the month's first day (2026-11-01).
        Table(
            "budgets",
            (
                Column("id", UUID, required=True),
                Column("organization_id", UUID, required=True),
                Column("team_id", UUID),
                Column("budget_month", TS, required=True),
                Column("amount_usd", NUM, required=True),
                Column("created_at", TS),
                Column("updated_at", TS, required=True),
            ),
        ),
        # The providers' invoices, for all the platform (organization_id empty) or one
        # organization; the billing period runs from its start to its end, end excluded.
        Table(
            "provider_invoices",
            (
                Column("id", UUID, required=True),
                Column("invoice_id", TEXT, required=True),
                Column("provider", TEXT, required=True),
                Column("organization_id", UUID),
                Column("billing_period_start", TS, required=True),
                Column("billing_period_end", TS, required=True),
                Column("amount", NUM, required=True),
                Column("currency", TEXT, required=True),
                Column("issued_at", TS),
                Column("updated_at", TS, required=True),
            ),
        ),
    )
}

# Bookkeeping columns the loader adds to every raw row.
LINEAGE_COLUMNS = ("_loaded_at", "_batch_id", "_source_file", "_source_line")

FILE_FORMATS = ("csv", "jsonl", "parquet")

TASK_STATUSES = ("pending", "running", "completed", "failed")
TASK_TYPES = ("bug_fix", "feature", "refactor", "test", "documentation")
PROVIDERS = ("github_copilot", "openai_codex", "google_code_assist")
PRICING_TIERS = ("free", "standard", "premium", "enterprise")
USER_ROLES = ("org_admin", "team_lead", "developer")
