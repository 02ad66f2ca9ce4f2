"""The generated platform's budgets and its providers' invoices (docs/insights.md).

Both follow from the tasks generated, without drawing from the generator's random stream (the
other files stay byte for byte what they were). The providers bill at their contract price,
the most specific price row of the DESIGN's rule (task type and tier, then task type, then
tier, then the list price), as the warehouse prices; google_code_assist also bills failed
tasks, which the warehouse does not count, so its invoices come out over the warehouse's cost
and the reconciliation names that cause.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from warehouse.synthetic.entities import Row

# Fixed, so that the same config always gives the same ids.
ID_NAMESPACE = uuid.UUID("6f1c1d2e-8a41-4c55-9d57-2b8f0e3c7a10")
# An organization's monthly budget as a multiple of its month's expected spend, by the
# organization's position: the first is forecast over budget, the others reach 50 or 80 %.
BUDGET_FACTORS = (Decimal("0.85"), Decimal("1.3"), Decimal("1.6"), Decimal("1.15"))
TEAM_BUDGET_FACTOR = Decimal("1.2")  # the first team of each organization has a budget too
BILLS_FAILED_TASKS = frozenset({"google_code_assist"})
INVOICE_PREFIX = {"github_copilot": "GHC", "openai_codex": "OAI", "google_code_assist": "GCA"}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BilledTask:
    """A finished task as its provider bills it."""

    organization_id: str
    team_id: str | None
    provider: str
    day: date
    status: str
    cost: Decimal


def contract_price(
    pricing: list[Row], provider: str, task_type: str, tier: str | None, moment: datetime
) -> Row | None:
    """The price row that applies: the most specific match, then the latest effective_from."""

    def rank(row: Row) -> tuple[int, datetime] | None:
        if row["provider"] != provider or not row["effective_from"] <= moment:
            return None
        if row["effective_until"] is not None and moment >= row["effective_until"]:
            return None
        if row["task_type"] not in (None, task_type) or row["pricing_tier"] not in (None, tier):
            return None
        specificity = 2 * (row["task_type"] is not None) + (row["pricing_tier"] is not None)
        return specificity, row["effective_from"]

    ranked = [(key, row) for row in pricing if (key := rank(row)) is not None]
    return max(ranked, key=lambda item: item[0])[1] if ranked else None


def _stable_id(*parts: object) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, ":".join(str(part) for part in parts)))


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _expected_spend(costs: dict[date, Decimal], month: date, first: date, last: date) -> Decimal:
    """The month's spend at the pace of its generated days (completed tasks)."""
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    covered = [
        day for day in (month + timedelta(days=n) for n in range(days_in_month))
        if first <= day <= last
    ]  # fmt: skip
    spent = sum((costs.get(day, Decimal(0)) for day in covered), Decimal(0))
    return spent / len(covered) * days_in_month


def budgets(
    organizations: list[Row],
    first_teams: dict[str, str],
    tasks: list[BilledTask],
    first: date,
    last: date,
) -> list[Row]:
    """A budget per organization and month of the period, and one for its first team."""
    by_scope: dict[tuple[str, str | None], dict[date, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for task in tasks:
        if task.status == "completed":
            by_scope[(task.organization_id, None)][task.day] += task.cost
            if task.team_id is not None:
                by_scope[(task.organization_id, task.team_id)][task.day] += task.cost
    rows = []
    for position, organization in enumerate(organizations):
        factor = BUDGET_FACTORS[position % len(BUDGET_FACTORS)]
        scopes = [(None, factor)]
        if organization["id"] in first_teams:
            scopes.append((first_teams[organization["id"]], factor * TEAM_BUDGET_FACTOR))
        for month in _months(first, last):
            written = datetime.combine(month - timedelta(days=5), time(9), tzinfo=UTC)
            for team_id, scope_factor in scopes:
                costs = by_scope.get((organization["id"], team_id), {})
                amount = max((_expected_spend(costs, month, first, last) * scope_factor)
                             .quantize(Decimal(1)), Decimal(10))  # fmt: skip
                rows.append({
                    "id": _stable_id("budget", organization["id"], team_id, month),
                    "organization_id": organization["id"], "team_id": team_id,
                    "budget_month": month, "amount_usd": str(amount),
                    "created_at": written, "updated_at": written,
                })  # fmt: skip
    return rows


def invoices(tasks: list[BilledTask], first: date, last: date, until: datetime) -> list[Row]:
    """Each provider's invoice for the whole platform for every month wholly inside the
    period, issued on the 3rd of the next month when that is before ``until``."""
    billed: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for task in tasks:
        if task.status == "completed" or task.provider in BILLS_FAILED_TASKS:
            billed[(task.provider, task.day.replace(day=1))] += task.cost
    rows = []
    for month in _months(first, last):
        following = _next_month(month)
        issued = datetime.combine(following + timedelta(days=2), time(6), tzinfo=UTC)
        if month < first or following > last or issued > until:
            continue
        for provider, prefix in INVOICE_PREFIX.items():
            rows.append({
                "id": _stable_id("invoice", provider, month),
                "invoice_id": f"{prefix}-{month:%Y%m}", "provider": provider,
                "organization_id": None,
                "billing_period_start": datetime.combine(month, time(), tzinfo=UTC),
                "billing_period_end": datetime.combine(following, time(), tzinfo=UTC),
                "amount": str(billed[(provider, month)].quantize(CENT)), "currency": "USD",
                "issued_at": issued, "updated_at": issued,
            })  # fmt: skip
    return rows
