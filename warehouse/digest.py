"""The monthly digest of each organization: its executive summary's numbers, with its executive
report attached, sent to the ALERT_URLS channels (docs/reports.md). Each organization, month and
channel is sent once (``monitoring.digest_deliveries``); a channel that fails is tried again on
the next run, the others are not held up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from warehouse.alerting.channels import Channel, send
from warehouse.report import money, percent, write_report

CREATE_TABLE = """
create schema if not exists monitoring;
create table if not exists monitoring.digest_deliveries (
    organization_id uuid not null,
    month_start date not null,
    channel text not null,
    delivered_at timestamptz not null default now(),
    primary key (organization_id, month_start, channel)
);
comment on table monitoring.digest_deliveries is
    'Which ALERT_URLS channel (a digest of its URL) received which organization''s monthly digest.';
"""

# The organizations with tasks in the month, and the executive summary's numbers.
SUMMARIES = """
select
    monthly.organization_id,
    organizations.name,
    monthly.total_tasks,
    monthly.completed_tasks,
    monthly.active_developers,
    monthly.total_cost_usd,
    monthly.total_baseline_cost_usd,
    monthly.total_savings_usd,
    monthly.savings_percentage,
    roi.roi_percentage,
    roi.net_benefit_usd
from analytics.organization_analytics as monthly
inner join analytics.organizations on monthly.organization_id = organizations.id
left join analytics.roi_summary as roi
    on roi.organization_id = monthly.organization_id and roi.month_start = monthly.metric_date
where monthly.aggregation_period = 'monthly' and monthly.metric_date = %s
order by organizations.name
"""


@dataclass
class DigestRun:
    reports: list[Path] = field(default_factory=list)
    sent: int = 0
    already_sent: int = 0
    failed: list[str] = field(default_factory=list)  # "<organization> to <channel label>"


def report_path(directory: Path, month: date, name: str, organization_id: Any) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return directory / f"{month:%Y-%m}" / f"{slug}-{str(organization_id)[:8]}.html"


def digest_text(summary: dict[str, Any], month: date) -> tuple[str, str]:
    """The digest's title and body."""
    title = f"{summary['name']}: {month:%B %Y} on the AI routing platform"
    lines = [
        f"Savings {money(summary['total_savings_usd'])} "
        f"({percent(summary['savings_percentage'])} of the baseline cost "
        f"{money(summary['total_baseline_cost_usd'])}); cost {money(summary['total_cost_usd'])}.",
        f"{summary['total_tasks']:,} tasks, {summary['completed_tasks']:,} completed, by "
        f"{summary['active_developers']:,} developers.",
    ]
    if summary["roi_percentage"] is not None:
        lines.append(
            f"Return on the platform fee: {percent(summary['roi_percentage'])} "
            f"(net benefit {money(summary['net_benefit_usd'])})."
        )
    lines.append("The executive report is attached (open it in a browser).")
    return title, "\n".join(lines)


def write_reports_and_send(
    connection: psycopg.Connection,
    month: date,
    directory: Path,
    channels: list[Channel],
) -> DigestRun:
    """Write each organization's report for ``month`` under ``directory``, then send each
    digest not sent yet to each channel."""
    run = DigestRun()
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        summaries = cursor.execute(SUMMARIES, (month,)).fetchall()
    connection.execute(CREATE_TABLE)
    for summary in summaries:
        path = report_path(directory, month, summary["name"], summary["organization_id"])
        run.reports.append(write_report(connection, summary["organization_id"], month, path))
        title, body = digest_text(summary, month)
        for channel in channels:
            if connection.execute(
                "select 1 from monitoring.digest_deliveries "
                "where organization_id = %s and month_start = %s and channel = %s",
                (summary["organization_id"], month, channel.key),
            ).fetchone():
                run.already_sent += 1
                continue
            if not send(channel, title, body, attachments=[path]):
                run.failed.append(f"{summary['name']} to {channel.label}")
                continue
            connection.execute(
                "insert into monitoring.digest_deliveries (organization_id, month_start, channel) "
                "values (%s, %s, %s) on conflict do nothing",
                (summary["organization_id"], month, channel.key),
            )
            run.sent += 1
    return run
