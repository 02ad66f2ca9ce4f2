"""A month's costs in FOCUS 1.2 (the FinOps Open Cost and Usage Specification), for finance tools.

One row per charge: organization (the FOCUS sub-account), team, provider, task type, price row
and UTC day, summing the marts' cost of the completed tasks started that day
(``analytics.task_executions``: the same cost as every mart, so the file's total is the marts'
total). The column semantics and what each is filled with: docs/focus.md.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse import arguments

FOCUS_VERSION = "1.2"
FORMATS = ("csv", "parquet")
BILLING_ACCOUNT_ID = "generic-corp-platform"
BILLING_ACCOUNT_NAME = "Generic Corp AI routing platform"

MONEY = pa.decimal128(20, 6)
TIMESTAMP = pa.timestamp("s", tz="UTC")
# (FOCUS column, Arrow type), in the file's order: the FOCUS columns alphabetically, then the
# custom x_ columns the specification allows.
COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("BilledCost", MONEY),
    ("BillingAccountId", pa.string()),
    ("BillingAccountName", pa.string()),
    ("BillingAccountType", pa.string()),
    ("BillingCurrency", pa.string()),
    ("BillingPeriodEnd", TIMESTAMP),
    ("BillingPeriodStart", TIMESTAMP),
    ("ChargeCategory", pa.string()),
    ("ChargeClass", pa.string()),
    ("ChargeDescription", pa.string()),
    ("ChargeFrequency", pa.string()),
    ("ChargePeriodEnd", TIMESTAMP),
    ("ChargePeriodStart", TIMESTAMP),
    ("ConsumedQuantity", pa.decimal128(20, 0)),
    ("ConsumedUnit", pa.string()),
    ("ContractedCost", MONEY),
    ("ContractedUnitPrice", pa.decimal128(20, 10)),
    ("EffectiveCost", MONEY),
    ("InvoiceIssuerName", pa.string()),
    ("ListCost", MONEY),
    ("ListUnitPrice", pa.decimal128(20, 10)),
    ("PricingCategory", pa.string()),
    ("PricingQuantity", pa.decimal128(20, 0)),
    ("PricingUnit", pa.string()),
    ("ProviderName", pa.string()),
    ("PublisherName", pa.string()),
    ("ServiceCategory", pa.string()),
    ("ServiceName", pa.string()),
    ("ServiceSubcategory", pa.string()),
    ("SkuId", pa.string()),
    ("SkuPriceId", pa.string()),
    ("SubAccountId", pa.string()),
    ("SubAccountName", pa.string()),
    ("SubAccountType", pa.string()),
    ("Tags", pa.string()),
    ("x_TaskCount", pa.int64()),
    ("x_TaskType", pa.string()),
    ("x_TeamId", pa.string()),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)

# The charges of [month_start, month_end), optionally of one organization. Unit prices only for
# a price row with a per-token price alone (otherwise a task's cost is not tokens x one price).
CHARGES = """
with tasks as (
    select
        task.organization_id,
        users.team_id,
        task.provider,
        task.task_type,
        task.pricing_id,
        (task.start_time at time zone 'UTC')::date as charge_day,
        task.cost_usd,
        task.tokens_used
    from analytics.task_executions as task
    left join analytics.users on task.user_id = users.id
    where
        task.status = 'completed'
        and task.start_time >= %(month_start)s
        and task.start_time < %(month_end)s
        and (%(organization_id)s::uuid is null or task.organization_id = %(organization_id)s)
)

select
    tasks.organization_id::text as organization_id,
    organizations.name as organization_name,
    tasks.team_id::text as team_id,
    teams.name as team_name,
    tasks.provider,
    coalesce(providers.display_name, tasks.provider) as provider_name,
    coalesce(providers.vendor, tasks.provider) as vendor,
    tasks.task_type,
    tasks.pricing_id::text as pricing_id,
    case
        when coalesce(prices.cost_per_request, 0) = 0 and coalesce(prices.cost_per_minute, 0) = 0
            then prices.cost_per_token
    end as unit_price,
    tasks.charge_day,
    count(*) as tasks,
    coalesce(sum(tasks.cost_usd), 0) as cost,
    coalesce(sum(tasks.tokens_used), 0) as tokens
from tasks
inner join analytics.organizations on tasks.organization_id = organizations.id
left join analytics.teams on tasks.team_id = teams.id
left join analytics.providers on tasks.provider = providers.provider_id
left join analytics.provider_pricing as prices on tasks.pricing_id = prices.id
group by
    tasks.organization_id, organizations.name, tasks.team_id, teams.name, tasks.provider,
    providers.display_name, providers.vendor, tasks.task_type, tasks.pricing_id, unit_price,
    tasks.charge_day
order by tasks.charge_day, organizations.name, tasks.provider, tasks.task_type, teams.name
"""


class FocusExportError(arguments.ArgumentError):
    """A request the export cannot serve; the message says what to do instead."""


@dataclass(frozen=True)
class FocusExport:
    path: Path
    rows: int
    total_cost: Decimal


def parse_organization(text: str | None) -> UUID | None:
    """The optional --org."""
    return None if text is None else arguments.parse_organization(text)


def output_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FocusExportError(
            f"--out must end in .csv or .parquet (the format follows the name), not {path.name!r}"
        )
    return suffix


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def focus_rows(
    connection: psycopg.Connection, month: date, organization_id: UUID | None = None
) -> list[dict[str, Any]]:
    """The month's charges as FOCUS rows (dicts keyed by COLUMN_NAMES)."""
    if (
        organization_id is not None
        and not connection.execute(
            "select 1 from analytics.organizations where id = %s", (organization_id,)
        ).fetchone()
    ):
        raise FocusExportError(
            f"no organization {organization_id} in analytics.organizations "
            "(is the id right, and the warehouse built?)"
        )
    month_end = arguments.next_month(month)
    parameters = {
        "month_start": _midnight(month),
        "month_end": _midnight(month_end),
        "organization_id": organization_id,
    }
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        charges = cursor.execute(CHARGES, parameters).fetchall()
    return [_focus_row(charge, month, month_end) for charge in charges]


def _focus_row(charge: dict[str, Any], month: date, month_end: date) -> dict[str, Any]:
    day = charge["charge_day"]
    unit_price = charge["unit_price"].normalize() if charge["unit_price"] is not None else None
    provider_name = charge["provider_name"]
    tags = {"task_type": charge["task_type"]}
    if charge["team_id"] is not None:
        tags |= {"team": charge["team_name"], "team_id": charge["team_id"]}
    return {
        "BilledCost": charge["cost"],
        "BillingAccountId": BILLING_ACCOUNT_ID,
        "BillingAccountName": BILLING_ACCOUNT_NAME,
        "BillingAccountType": "Platform",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _midnight(month_end),
        "BillingPeriodStart": _midnight(month),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": (
            f"{charge['tasks']} completed {charge['task_type']} "
            f"task{'' if charge['tasks'] == 1 else 's'} on {provider_name}, "
            f"{charge['tokens']} tokens"
        ),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _midnight(day + timedelta(days=1)),
        "ChargePeriodStart": _midnight(day),
        "ConsumedQuantity": charge["tokens"],
        "ConsumedUnit": "Tokens",
        "ContractedCost": charge["cost"],
        "ContractedUnitPrice": unit_price,
        "EffectiveCost": charge["cost"],
        "InvoiceIssuerName": charge["vendor"],
        "ListCost": charge["cost"],
        "ListUnitPrice": unit_price,
        "PricingCategory": "Standard",
        "PricingQuantity": charge["tokens"],
        "PricingUnit": "Tokens",
        "ProviderName": charge["vendor"],
        "PublisherName": charge["vendor"],
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": provider_name,
        "ServiceSubcategory": "Generative AI",
        "SkuId": f"{charge['provider']}:{charge['task_type']}",
        "SkuPriceId": charge["pricing_id"],
        "SubAccountId": charge["organization_id"],
        "SubAccountName": charge["organization_name"],
        "SubAccountType": "Organization",
        "Tags": json.dumps(tags, sort_keys=True),
        "x_TaskCount": charge["tasks"],
        "x_TaskType": charge["task_type"],
        "x_TeamId": charge["team_id"],
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_rows(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """``rows`` to ``path`` (CSV or Parquet, by its extension), every column, even when empty."""
    file_format = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMN_NAMES)
            writer.writerows([_text(row[name]) for name in COLUMN_NAMES] for row in rows)
        return
    schema = pa.schema(
        list(COLUMNS), metadata={"focus_version": FOCUS_VERSION, "generator": "warehouse"}
    )
    table = pa.table({name: [row[name] for row in rows] for name in COLUMN_NAMES}, schema=schema)
    pq.write_table(table, path)


def export_focus(
    connection: psycopg.Connection, month: date, path: Path, organization_id: UUID | None = None
) -> FocusExport:
    """Write the month's FOCUS file; its row count and total billed cost."""
    output_format(path)  # refuse a wrong name before reading anything
    rows = focus_rows(connection, month, organization_id)
    write_rows(rows, path)
    return FocusExport(path, len(rows), sum((row["BilledCost"] for row in rows), Decimal(0)))
