"""The monthly executive report of one organization: a self-contained HTML page (charts as
inline SVG, rendered with Altair and vl-convert; no script, no network) that opens offline.

Every number comes from a mart by the queries below and is written in an element carrying
``data-metric`` (the mart's column) so that it can be traced, and checked, against the mart:
the summary (``organization_analytics``' monthly row), cost against baseline by day, the
provider mix, the teams (``user_analytics`` by current team), ROI (``roi_summary``), the
month-end forecast, cost anomalies, routing recommendations and budgets, each where its model
has rows (the report shows what exists; docs/reports.md).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import altair as alt
import psycopg
import vl_convert

from warehouse.arguments import ArgumentError, next_month

SUMMARY = """
select
    organizations.name as organization_name,
    monthly.total_tasks,
    monthly.completed_tasks,
    monthly.failed_tasks,
    monthly.total_developers,
    monthly.active_developers,
    monthly.total_cost_usd,
    monthly.total_baseline_cost_usd,
    monthly.total_savings_usd,
    monthly.savings_percentage,
    monthly.provider_usage,
    monthly.provider_costs
from analytics.organizations
left join analytics.organization_analytics as monthly
    on monthly.organization_id = organizations.id
    and monthly.aggregation_period = 'monthly' and monthly.metric_date = %(month)s
where organizations.id = %(organization_id)s
"""

DAYS = """
select metric_date, total_cost_usd, total_baseline_cost_usd, total_savings_usd
from analytics.organization_analytics
where organization_id = %(organization_id)s and aggregation_period = 'daily'
    and metric_date >= %(month)s and metric_date < %(month_end)s
order by metric_date
"""

TEAMS = """
select
    coalesce(teams.name, '(no team)') as team,
    sum(monthly.total_tasks)::integer as total_tasks,
    sum(monthly.completed_tasks)::integer as completed_tasks,
    round(sum(monthly.total_cost_usd), 2) as total_cost_usd,
    round(sum(monthly.total_savings_usd), 2) as total_savings_usd,
    count(*) filter (where monthly.total_tasks > 0)::integer as active_developers
from analytics.user_analytics as monthly
left join analytics.users on monthly.user_id = users.id
left join analytics.teams on users.team_id = teams.id
where monthly.organization_id = %(organization_id)s and monthly.aggregation_period = 'monthly'
    and monthly.metric_date = %(month)s
group by teams.name
order by total_savings_usd desc, team
"""

ROI = """
select platform_fee_usd, net_benefit_usd, roi_percentage, cumulative_savings_usd,
    cumulative_net_benefit_usd, payback_month
from analytics.roi_summary
where organization_id = %(organization_id)s and month_start = %(month)s
"""

FORECAST = """
select forecast_date, forecast_cost_usd, forecast_cost_low_usd, forecast_cost_high_usd,
    forecast_savings_usd, forecast_savings_low_usd, forecast_savings_high_usd
from analytics.savings_forecast
where organization_id = %(organization_id)s and month_start = %(month)s
"""

ANOMALIES = """
select metric_date, total_cost_usd, reason
from analytics.cost_anomalies
where organization_id = %(organization_id)s and is_anomaly
    and metric_date >= %(month)s and metric_date < %(month_end)s
order by metric_date
"""

RECOMMENDATIONS = """
select task_type, recommended_provider, estimated_monthly_savings_usd, reason
from analytics.routing_recommendations
where organization_id = %(organization_id)s and rank = 1
order by estimated_monthly_savings_usd desc, task_type
"""

BUDGETS = """
select coalesce(teams.name, '(whole organization)') as scope, budgets.budget_usd,
    budgets.spent_usd, budgets.spent_percentage, budgets.forecast_spend_usd,
    budgets.forecast_percentage
from analytics.budget_status as budgets
left join analytics.teams on budgets.team_id = teams.id
where budgets.organization_id = %(organization_id)s and budgets.month_start = %(month)s
order by budgets.team_id nulls first, scope
"""


class ReportError(ArgumentError):
    """A report that cannot be made; the message says what to do instead."""


@dataclass
class ReportData:
    organization_id: UUID
    month: date
    summary: dict[str, Any]
    days: list[dict[str, Any]]
    teams: list[dict[str, Any]]
    roi: dict[str, Any] | None
    forecast: dict[str, Any] | None
    anomalies: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    budgets: list[dict[str, Any]]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _rows(connection: psycopg.Connection, query: str, parameters: dict) -> list[dict[str, Any]]:
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        try:
            return cursor.execute(query, parameters).fetchall()
        except psycopg.errors.UndefinedTable:  # an insight not built here: the report omits it
            connection.rollback()
            return []


def gather(connection: psycopg.Connection, organization_id: UUID, month: date) -> ReportData:
    """What the report shows, read from the marts."""
    parameters = {
        "organization_id": organization_id,
        "month": month,
        "month_end": next_month(month),
    }
    summaries = _rows(connection, SUMMARY, parameters)
    if not summaries:
        raise ReportError(
            f"no organization {organization_id} in analytics.organizations "
            "(is the id right, and the warehouse built?)"
        )
    summary = summaries[0]
    if summary["total_tasks"] is None:
        raise ReportError(
            f"{summary['organization_name']} has no tasks in {month:%Y-%m} "
            "(analytics.organization_analytics has no monthly row): pick another month"
        )
    roi = _rows(connection, ROI, parameters)
    forecast = _rows(connection, FORECAST, parameters)
    return ReportData(
        organization_id=organization_id,
        month=month,
        summary=summary,
        days=_rows(connection, DAYS, parameters),
        teams=_rows(connection, TEAMS, parameters),
        roi=roi[0] if roi else None,
        forecast=forecast[0] if forecast else None,
        anomalies=_rows(connection, ANOMALIES, parameters),
        recommendations=_rows(connection, RECOMMENDATIONS, parameters),
        budgets=_rows(connection, BUDGETS, parameters),
    )


# ------------------------------------------------------------------------------- rendering
def money(value: Decimal | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f} %"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def metric(name: str, text: str, tag: str = "td", css: str = "") -> str:
    """An element showing one mart value, named by its column (``data-metric``)."""
    css_attribute = f' class="{css}"' if css else ""
    return f'<{tag} data-metric="{name}"{css_attribute}>{html.escape(text)}</{tag}>'


def _svg(chart: alt.TopLevelMixin) -> str:
    svg = vl_convert.vegalite_to_svg(chart.to_json())
    return svg[svg.index("<svg") :]


def cost_chart(days: Sequence[dict[str, Any]]) -> str:
    """Daily cost against baseline: two lines, the gap between them is the savings."""
    values = [
        {"day": row["metric_date"].isoformat(), "series": series, "usd": float(row[column])}
        for row in days
        for series, column in (("baseline", "total_baseline_cost_usd"),
                               ("cost", "total_cost_usd"))
    ]  # fmt: skip
    chart = (
        alt.Chart(alt.Data(values=values), width=560, height=220)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("usd:Q", title="USD a day"),
            color=alt.Color("series:N", title=None, scale=alt.Scale(range=["#9aa5b1", "#1f6feb"])),
        )
    )
    return _svg(chart)


def provider_chart(provider_costs: dict[str, Any], provider_usage: dict[str, Any]) -> str:
    values = [
        {"provider": provider, "usd": float(provider_costs.get(provider, 0) or 0),
         "tasks": int(provider_usage.get(provider, 0) or 0)}
        for provider in sorted(set(provider_costs) | set(provider_usage))
    ]  # fmt: skip
    chart = (
        alt.Chart(alt.Data(values=values), width=420, height=26 * max(len(values), 1))
        .mark_bar(color="#1f6feb")
        .encode(
            y=alt.Y("provider:N", title=None, sort="-x"),
            x=alt.X("usd:Q", title="cost of completed tasks, USD"),
            tooltip=["provider:N", "usd:Q", "tasks:Q"],
        )
    )
    return _svg(chart)


NONE_THIS_MONTH = '<p class="empty">None this month.</p>'
NO_RECOMMENDATION = (
    '<p class="empty">None: the current routing is as good as the evidence shows.</p>'
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1f2328; }
h1 { margin-bottom: 0; } .sub { color: #656d76; margin-top: .2rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1.2rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: .7rem 1rem; min-width: 9rem; }
.card .label { color: #656d76; font-size: .85rem; } .card .value { font-size: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #d0d7de; text-align: left; }
td.n, th.n { text-align: right; } .empty { color: #656d76; }
"""


def _card(label: str, name: str, text: str) -> str:
    return (f'<div class="card"><div class="label">{html.escape(label)}</div>'
            f"{metric(name, text, 'div', 'value')}</div>")  # fmt: skip


def _table(header: Sequence[str], rows: Sequence[str], numeric: Sequence[bool]) -> str:
    head = "".join(
        (f'<th class="n">{html.escape(title)}</th>' if is_number
         else f"<th>{html.escape(title)}</th>")
        for title, is_number in zip(header, numeric, strict=True)
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def number(name: str, text: str) -> str:
    """A right-aligned table cell showing one mart value."""
    return metric(name, text, css="n")


def _providers(usage: dict[str, Any], costs: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{html.escape(provider)}</td>"
        + number(f"provider_usage.{provider}", count(usage.get(provider)))
        + number(f"provider_costs.{provider}", money(_decimal(costs.get(provider))))
        + "</tr>"
        for provider in sorted(set(usage) | set(costs))
    ]
    return _table(("provider", "tasks", "cost of completed tasks"), rows, (False, True, True))


def render(data: ReportData) -> str:
    """The report's HTML."""
    s = data.summary
    name = html.escape(s["organization_name"])
    month = f"{data.month:%B %Y}"
    parts = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{name}: {month} executive report</title><style>{STYLE}</style></head><body>",
        f'<h1>{name}</h1><p class="sub">Executive report, {month}. Generated '
        f"{data.generated_at:%Y-%m-%d %H:%M} UTC from the warehouse's marts.</p>",
        '<div class="cards">',
        _card("Savings", "total_savings_usd", money(s["total_savings_usd"])),
        _card("Savings %", "savings_percentage", percent(s["savings_percentage"])),
        _card("Cost", "total_cost_usd", money(s["total_cost_usd"])),
        _card("Baseline cost", "total_baseline_cost_usd", money(s["total_baseline_cost_usd"])),
        _card("Tasks", "total_tasks", count(s["total_tasks"])),
        _card("Completed", "completed_tasks", count(s["completed_tasks"])),
        _card("Active developers", "active_developers", count(s["active_developers"])),
        "</div>",
        "<h2>Cost against baseline, by day</h2>",
        cost_chart(data.days) if data.days else '<p class="empty">No day with tasks.</p>',
        "<h2>Providers</h2>",
        provider_chart(s["provider_costs"] or {}, s["provider_usage"] or {}),
        _providers(s["provider_usage"] or {}, s["provider_costs"] or {}),
        "<h2>Teams</h2>",
        _teams(data.teams),
        "<h2>Return on the platform fee</h2>",
        _roi(data.roi),
    ]
    parts += _insights(data)
    parts.append("</body></html>")
    return "\n".join(parts)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _teams(teams: Sequence[dict[str, Any]]) -> str:
    if not teams:
        return '<p class="empty">No developer activity.</p>'
    rows = [
        f"<tr><td>{html.escape(team['team'])}</td>"
        + number("teams.total_tasks", count(team["total_tasks"]))
        + number("teams.completed_tasks", count(team["completed_tasks"]))
        + number("teams.total_cost_usd", money(team["total_cost_usd"]))
        + number("teams.total_savings_usd", money(team["total_savings_usd"]))
        + "</tr>"
        for team in teams
    ]
    return _table(("team", "tasks", "completed", "cost", "savings"), rows,
                  (False, True, True, True, True))  # fmt: skip


def _roi(roi: dict[str, Any] | None) -> str:
    if roi is None:
        return '<p class="empty">No ROI row for this month (analytics.roi_summary).</p>'
    payback = roi["payback_month"]
    return (
        '<div class="cards">'
        + _card("Platform fee", "platform_fee_usd", money(roi["platform_fee_usd"]))
        + _card("Net benefit", "net_benefit_usd", money(roi["net_benefit_usd"]))
        + _card("ROI", "roi_percentage", percent(roi["roi_percentage"]))
        + _card(
            "Cumulative net benefit",
            "cumulative_net_benefit_usd",
            money(roi["cumulative_net_benefit_usd"]),
        )
        + _card(
            "Paid back in", "payback_month", payback.strftime("%B %Y") if payback else "not yet"
        )
        + "</div>"
    )


def _insights(data: ReportData) -> list[str]:
    parts = []
    if data.forecast:
        f = data.forecast
        parts += [
            "<h2>Month-end forecast</h2>",
            '<div class="cards">',
            _card("Cost", "forecast_cost_usd", money(f["forecast_cost_usd"])),
            _card("Savings", "forecast_savings_usd", money(f["forecast_savings_usd"])),
            "</div>",
            f"<p>95 % interval: cost {money(f['forecast_cost_low_usd'])} to "
            f"{money(f['forecast_cost_high_usd'])}, savings "
            f"{money(f['forecast_savings_low_usd'])} to {money(f['forecast_savings_high_usd'])} "
            f"(as of {f['forecast_date']:%Y-%m-%d}).</p>",
        ]
    if data.budgets:
        rows = [
            f"<tr><td>{html.escape(row['scope'])}</td>"
            + number("budgets.budget_usd", money(row["budget_usd"]))
            + number("budgets.spent_usd", money(row["spent_usd"]))
            + number("budgets.spent_percentage", percent(row["spent_percentage"]))
            + number("budgets.forecast_spend_usd", money(row["forecast_spend_usd"]))
            + "</tr>"
            for row in data.budgets
        ]
        header = ("budget", "amount", "spent", "spent %", "forecast")
        parts += ["<h2>Budgets</h2>", _table(header, rows, (False, True, True, True, True))]
    parts.append("<h2>Cost anomalies</h2>")
    anomalies = [
        f"<li>{row['metric_date']:%Y-%m-%d}: "
        + metric("anomalies.total_cost_usd", money(row["total_cost_usd"]), "span")
        + f", {html.escape(row['reason'])}</li>"
        for row in data.anomalies
    ]
    parts.append(f"<ul>{''.join(anomalies)}</ul>" if anomalies else NONE_THIS_MONTH)
    parts.append("<h2>Routing recommendations</h2>")
    recommendations = [
        "<li>"
        + metric(
            "recommendations.estimated_monthly_savings_usd",
            money(row["estimated_monthly_savings_usd"]),
            "span",
        )
        + f" a month: {html.escape(row['reason'])}</li>"
        for row in data.recommendations
    ]
    parts.append(f"<ul>{''.join(recommendations)}</ul>" if recommendations else NO_RECOMMENDATION)
    return parts


def write_report(
    connection: psycopg.Connection, organization_id: UUID, month: date, path: Path
) -> Path:
    """Render the organization's report for the month into ``path`` (.html)."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"--out must be an .html file, not {path.name!r}")
    data = gather(connection, organization_id, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path
