"""What the dashboard shows, read from the marts as the viewer: each query runs in a transaction
under the viewer's reader role (``set local role``) with ``app.user_id`` set to them, so the
row-level security of the marts (docs/privacy.md) decides every row, as for any BI tool."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from warehouse import postgres
from warehouse.readers import READER_ROLES, Viewer, as_viewer

__all__ = ["READER_ROLES", "Viewer", "as_viewer"]

PAGE_SIZE = 25


def viewers() -> list[Viewer]:
    """The people who can sign in: current users with a reader role, read as the BI reader
    (the demo's stand-in for sign-in)."""
    with postgres.connect() as connection, connection.transaction():
        connection.execute("set local role analytics_bi_reader")
        rows = connection.execute(
            """
            select users.id, coalesce(users.name, users.id::text), users.role, organizations.name
            from analytics.users
            inner join analytics.organizations on users.organization_id = organizations.id
            where not users.is_deleted and users.role = any(%s)
            order by organizations.name, users.role, users.name
            """,
            (list(READER_ROLES),),
        ).fetchall()
    return [Viewer(*row) for row in rows]


def _one(connection: psycopg.Connection, query: str, parameters: Any = None) -> dict[str, Any]:
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(query, parameters).fetchone() or {}


def _all(connection: psycopg.Connection, query: str, parameters: Any = None) -> list[dict]:
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(query, parameters).fetchall()


def savings(connection: psycopg.Connection, month: date) -> dict[str, Any]:
    """Today's savings so far (marts plus the live layer, analytics.live_savings_today) and the
    month's (user_analytics' monthly rows) of the tasks the viewer may see."""
    today = _one(
        connection,
        "select coalesce(sum(total_savings_usd), 0) as savings_today_usd, "
        "coalesce(sum(completed_tasks), 0) as completed_today from analytics.live_savings_today",
    )
    month_row = _one(
        connection,
        """
        select
            coalesce(sum(total_tasks), 0) as total_tasks,
            round(coalesce(sum(total_cost_usd), 0), 2) as total_cost_usd,
            round(coalesce(sum(total_baseline_cost_usd), 0), 2) as total_baseline_cost_usd,
            round(coalesce(sum(total_savings_usd), 0), 2) as total_savings_usd,
            round(100 * sum(total_savings_usd) / nullif(sum(total_baseline_cost_usd), 0), 2)
                as savings_percentage
        from analytics.user_analytics
        where aggregation_period = 'monthly' and metric_date = %s
        """,
        (month,),
    )
    return {**today, **month_row}


def daily_savings(connection: psycopg.Connection, month: date) -> list[dict[str, Any]]:
    return _all(
        connection,
        """
        select metric_date, round(sum(total_savings_usd), 2) as savings_usd,
            round(sum(total_cost_usd), 2) as cost_usd
        from analytics.user_analytics
        where aggregation_period = 'daily' and metric_date >= %s
            and metric_date < (%s::date + interval '1 month')
        group by metric_date
        order by metric_date
        """,
        (month, month),
    )


@dataclass(frozen=True)
class LogFilter:
    user_id: UUID | None = None
    provider: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None  # included

    def where(self) -> tuple[sql.Composable, dict[str, Any]]:
        parts = [sql.SQL("true")]
        values: dict[str, Any] = {}
        for column, value in (("user_id", self.user_id), ("provider", self.provider),
                              ("status", self.status)):  # fmt: skip
            if value is not None:
                parts.append(sql.SQL("tasks.{} = %({})s").format(sql.Identifier(column),
                                                                 sql.SQL(column)))  # fmt: skip
                values[column] = value
        if self.start is not None:
            parts.append(sql.SQL("tasks.start_date >= %(start)s"))
            values["start"] = self.start
        if self.end is not None:
            parts.append(sql.SQL("tasks.start_date <= %(end)s"))
            values["end"] = self.end
        return sql.SQL(" and ").join(parts), values


# Roles whose tasks are those of the users they see (row-level security by user_id): their log
# reads each user's newest tasks through the (user_id, start_time) index and merges them. An
# organization admin's are the organization's (a task's user may be of another), read through
# the (organization_id, start_time) index.
PER_USER_LOG_ROLES = {READER_ROLES["team_lead"], READER_ROLES["developer"]}


def task_log(
    connection: psycopg.Connection, where: LogFilter, page: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page (newest first) of the visible tasks matching the filter, and their count."""
    condition, values = where.where()
    total = _one(
        connection,
        sql.SQL("select count(*) as tasks from analytics.task_executions as tasks where {}").format(
            condition
        ),
        values,
    )["tasks"]
    role = connection.execute("select current_setting('role')").fetchone()[0]
    users = [where.user_id] if where.user_id is not None else []
    if role in PER_USER_LOG_ROLES and where.user_id is None:
        users = [row[0] for row in connection.execute("select id from analytics.users")]
    if not users:
        source = sql.SQL("analytics.task_executions as tasks")
    else:
        # the page among each visible user's newest tasks: a few index reads per user, where
        # sorting every task of a team (16,000 at 10 M tasks) took 190 ms
        source = sql.SQL(
            """
            unnest(%(users)s::uuid[]) as member (user_id)
            cross join lateral (
                select tasks.* from analytics.task_executions as tasks
                where tasks.user_id = member.user_id and {}
                order by tasks.start_time desc, tasks.task_id
                limit %(limit)s + %(offset)s
            ) as tasks
            """
        ).format(condition)
    rows = _all(
        connection,
        sql.SQL(
            """
            select tasks.task_id, tasks.start_time, coalesce(users.name, '') as user_name,
                tasks.task_type, tasks.provider, tasks.status, tasks.cost_usd, tasks.savings_usd
            from {}
            left join analytics.users on tasks.user_id = users.id
            where {}
            order by tasks.start_time desc, tasks.task_id
            limit %(limit)s offset %(offset)s
            """
        ).format(source, condition),
        {**values, "users": users, "limit": PAGE_SIZE, "offset": PAGE_SIZE * (page - 1)},
    )
    return total, rows


def log_choices(connection: psycopg.Connection) -> dict[str, list]:
    """The filter choices: the visible users, providers and statuses."""
    users = _all(
        connection,
        "select id, coalesce(name, id::text) as name from analytics.users order by name",
    )
    providers = [row["provider"] for row in _all(
        connection, "select provider_id as provider from analytics.providers order by 1"
    )]  # fmt: skip
    statuses = ["pending", "running", "completed", "failed", "timed_out"]
    return {"users": users, "providers": providers, "statuses": statuses}


def provider_usage(connection: psycopg.Connection, month: date) -> list[dict[str, Any]]:
    """The viewer's tasks by provider in the month (user_analytics' provider_usage)."""
    return _all(
        connection,
        """
        select usage.key as provider, sum(usage.value::integer)::integer as tasks
        from analytics.user_analytics
        cross join lateral jsonb_each_text(provider_usage) as usage
        where aggregation_period = 'monthly' and metric_date = %s
        group by usage.key
        order by tasks desc, provider
        """,
        (month,),
    )


def provider_performance(connection: psycopg.Connection, month: date) -> list[dict[str, Any]]:
    """Every provider's success rate and average cost in the month, platform-wide
    (provider_comparison_monthly)."""
    return _all(
        connection,
        """
        select provider, round(100.0 * sum(successful_tasks) / nullif(sum(total_tasks), 0), 2)
                as success_rate,
            round(sum(total_cost_usd) / nullif(sum(successful_tasks), 0), 4) as avg_cost_usd,
            sum(total_tasks)::integer as finished_tasks
        from analytics.provider_comparison_monthly
        where month_start = %s
        group by provider
        order by provider
        """,
        (month,),
    )


def team_productivity(connection: psycopg.Connection) -> list[dict[str, Any]]:
    """The latest week of analytics.team_productivity_weekly the viewer may see."""
    return _all(
        connection,
        """
        select week_start, user_name, total_tasks, completed_tasks, total_savings_usd,
            most_used_provider, task_rank
        from analytics.team_productivity_weekly
        where week_start = (select max(week_start) from analytics.team_productivity_weekly)
        order by task_rank, user_name
        """,
    )


def executive_summary(connection: psycopg.Connection, month: date) -> dict[str, Any]:
    """The organization's month (organization_cost_dashboard) and its ROI (roi_summary): for
    organization admins; empty for the others (row-level security)."""
    return _one(
        connection,
        """
        select dashboard.organization_name, dashboard.total_tasks, dashboard.completed_tasks,
            dashboard.total_cost_usd, dashboard.total_baseline_cost_usd,
            dashboard.total_savings_usd, dashboard.savings_percentage,
            roi.total_developers, roi.platform_fee_per_developer_usd, roi.platform_fee_usd,
            roi.net_benefit_usd, roi.roi_percentage, roi.payback_month
        from analytics.organization_cost_dashboard as dashboard
        left join analytics.roi_summary as roi
            on roi.organization_id = dashboard.organization_id
            and roi.month_start = dashboard.month_start
        where dashboard.month_start = %s
        """,
        (month,),
    )


def roi_what_if(savings_usd: Decimal, fee_per_developer: Decimal, developers: int) -> dict:
    """The ROI calculator: the month's savings against a fee per developer and a head count."""
    fee = fee_per_developer * developers
    net = savings_usd - fee
    roi = (100 * net / fee).quantize(Decimal("0.01")) if fee else None
    return {"platform_fee_usd": fee.quantize(Decimal("0.01")), "net_benefit_usd":
            net.quantize(Decimal("0.01")), "roi_percentage": roi}  # fmt: skip
