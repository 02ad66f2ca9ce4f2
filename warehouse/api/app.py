"""The reporting API (docs/api.md): the specification's dashboard queries (3.1 to 3.4) done
right, an organization's cost, baseline and savings series and a metrics query, as JSON (and
CSV for the series and the metrics), for the platform's product and its customers' scripts.

Every request carries a bearer key (``warehouse api-key create``); it runs as the key's user,
under their reader role with ``app.user_id`` set (warehouse/readers.py), so the marts' row-level
security decides what it sees: another organization's resource is simply not found (404). The
key, the answer cache and the request log are the gateway's (warehouse/api/gateway.py): the
routes here only compute answers.
"""

from __future__ import annotations

import csv
import gc
import io
import os
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import orjson
import psycopg
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from warehouse import postgres, settings
from warehouse.api import keys
from warehouse.api.gateway import Gateway, RequestLog, error_body, make_answers
from warehouse.readers import read_as_viewer

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def pool_size() -> int:
    """Database connections the API keeps (WAREHOUSE_API_POOL_SIZE)."""
    return int(os.environ.get("WAREHOUSE_API_POOL_SIZE", "10"))


def max_range_days() -> int:
    return int(os.environ.get("WAREHOUSE_API_MAX_RANGE_DAYS", "400"))


def max_page_size() -> int:
    return int(os.environ.get("WAREHOUSE_API_MAX_PAGE_SIZE", "1000"))


class ApiError(Exception):
    """An error answer: HTTP status, a stable code and a message (and the field, if any)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact: a JSON number would round money
    raise TypeError(f"{type(value).__name__} is not JSON")


class Json(JSONResponse):
    """JSON written by orjson: dates, times and UUIDs as ISO text, money as exact text."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_exact)


def check_range(start: date, end: date) -> None:
    """A start-to-end range the API serves: end not before start, at most the limit."""
    if end < start:
        raise ApiError(422, "invalid_parameter", "end: before start", "end")
    if (end - start) > timedelta(days=max_range_days()):
        raise ApiError(422, "range_too_long",
                       f"start to end spans {(end - start).days} days; the limit is "
                       f"{max_range_days()} (WAREHOUSE_API_MAX_RANGE_DAYS)", "end")  # fmt: skip


class Page:
    """A page of a list answer: ``page`` (from 1) of ``page_size`` rows, at most the limit."""

    def __init__(self, page: int, page_size: int | None) -> None:
        self.number, self.size = page, page_size or max_page_size()
        if self.size > max_page_size():
            raise ApiError(422, "page_too_large",
                           f"page_size: {self.size} rows asked; the limit is {max_page_size()} "
                           "(WAREHOUSE_API_MAX_PAGE_SIZE)", "page_size")  # fmt: skip

    @property
    def parameters(self) -> dict[str, int]:
        """One row more than the page, to know whether another follows."""
        return {"limit": self.size + 1, "offset": (self.number - 1) * self.size}

    def answer(self, rows: list[dict[str, Any]], columns: list[str], format: str,
               **fields: Any) -> Response:  # fmt: skip
        """JSON with the page's fields (``next_page``: null on the last), or CSV with the
        next page, if any, in ``X-Next-Page``."""
        more = len(rows) > self.size
        rows = rows[: self.size]
        next_page = self.number + 1 if more else None
        if format == "json":
            return Json({**fields, "page": self.number, "page_size": self.size,
                                 "next_page": next_page, "rows": rows})  # fmt: skip
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        headers = {"X-Next-Page": str(next_page)} if next_page else {}
        return Response(text.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


PageNumber = Annotated[int, Query(ge=1, description="the page, from 1")]
PageSize = Annotated[
    int | None,
    Query(ge=1, description="rows a page (default and limit WAREHOUSE_API_MAX_PAGE_SIZE)"),
]

SERIES_COLUMNS = [
    "metric_date", "period_end", "total_tasks", "completed_tasks", "total_cost_usd",
    "total_baseline_cost_usd", "total_savings_usd", "savings_percentage",
]  # fmt: skip


def parse_month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


bearer = HTTPBearer(auto_error=False, description="an API key: warehouse api-key create")


async def caller(request: Request, _: Annotated[Any, Depends(bearer)]) -> keys.Caller:
    """The caller the gateway found for this request's key."""
    return request.state.caller


Caller = Annotated[keys.Caller, Depends(caller)]


DASHBOARD = """
select organization_id, organization_name, month_start, total_tasks, completed_tasks,
    total_cost_usd, total_baseline_cost_usd, total_savings_usd, savings_percentage,
    baseline_provider
from analytics.organization_cost_dashboard
where organization_id = %(organization_id)s and month_start = %(month)s
"""

SAVINGS_TODAY = """
select organization_id, metric_date, completed_tasks, completed_tasks_live, total_cost_usd,
    total_baseline_cost_usd, total_savings_usd, computed_at
from analytics.live_savings_today
where organization_id = %(organization_id)s
"""

PROVIDER_COMPARISON = """
select provider, provider_name, task_type, month_start, total_tasks, successful_tasks,
    failed_tasks, success_rate, avg_duration_ms, median_duration_ms, p95_duration_ms,
    avg_cost_usd, total_cost_usd, avg_quality_score
from analytics.provider_comparison_monthly
where task_type = %(task_type)s and month_start = %(month)s
order by provider
"""

TEAM_PRODUCTIVITY = """
select team_id, week_start, user_id, user_name, total_tasks, completed_tasks,
    total_savings_usd, most_used_provider, task_rank
from analytics.team_productivity_weekly
where team_id = %(team_id)s and week_start = %(week)s
order by task_rank, user_name
"""

SERIES = """
select metric_date, period_end, total_tasks, completed_tasks, total_cost_usd,
    total_baseline_cost_usd, total_savings_usd, savings_percentage
from analytics.organization_analytics
where organization_id = %(organization_id)s and aggregation_period = %(grain)s
    and metric_date >= %(start)s and metric_date <= %(end)s
order by metric_date
limit %(limit)s offset %(offset)s
"""

LAST_FIVE_MINUTES = """
select provider, window_start, window_end, started_tasks, completed_tasks, failed_tasks,
    total_cost_usd, total_baseline_cost_usd, total_savings_usd, computed_at
from analytics.live_last_five_minutes
where organization_id = %(organization_id)s
order by provider
"""

# The metrics query's fixed set (docs/api.md), over analytics.user_analytics: every role sees
# the rows of the people it may see, so the same metric means the same thing for everyone.
# Ratios are ratios of sums, never averages of ratios.
METRICS = {
    "tasks": "sum(total_tasks)::bigint",
    "completed_tasks": "sum(completed_tasks)::bigint",
    "failed_tasks": "sum(failed_tasks)::bigint",
    "cost_usd": "round(sum(total_cost_usd), 2)",
    "baseline_usd": "round(sum(total_baseline_cost_usd), 2)",
    "savings_usd": "round(sum(total_savings_usd), 2)",
    "savings_percentage": (
        "round(100 * sum(total_savings_usd) / nullif(sum(total_baseline_cost_usd), 0), 2)"
    ),
    "active_developers": "count(distinct user_id) filter (where total_tasks > 0)",
}
DIMENSIONS = {"organization": "organization_id", "user": "user_id"}

ORGANIZATION_VISIBLE = "select 1 from analytics.organizations where id = %(organization_id)s"
TEAM_VISIBLE = "select 1 from analytics.teams where id = %(team_id)s"


def create_app() -> FastAPI:
    pool = AsyncConnectionPool(  # autocommit: read_as_viewer sends its own transaction
        kwargs={**settings.connection().keywords(), "autocommit": True},
        min_size=pool_size(),  # all opened at start, none while requests wait
        max_size=pool_size(),
        open=False,
        name="warehouse-api",
    )
    log, answers = RequestLog(pool), make_answers()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await pool.open(wait=True)
        log.start()
        # The objects made so far (modules, routes, models) live as long as the process: keep
        # them out of the collector's full passes, which would otherwise walk them every few
        # hundred requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await log.close()
            await answers.close()
            await pool.close()

    app = FastAPI(
        title="Generic Corp ROI warehouse API",
        version="1",
        description="The marts' dashboards, series and metrics, per caller (docs/api.md).",
        lifespan=lifespan,
    )
    app.state.pool, app.state.request_log = pool, log
    with postgres.connect(autocommit=True) as connection:
        keys.ensure_tables(connection)
    app.add_middleware(Gateway, pool=pool, answers=answers, log=log)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> Json:
        return Json(error_body(error.code, error.message, error.field), error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> Json:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "error")
        return Json(error_body(code, str(error.detail)), error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> Json:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part not in ("path", "query"))
        return Json(error_body("invalid_parameter", f"{field}: {first['msg']}", field), 422)

    async def read(who: keys.Caller, query: Any, parameters: dict, visible: str | None = None,
                   what: str = "", often_empty: bool = False) -> list[dict]:  # fmt: skip
        """The rows of ``query`` as the caller sees them; 404 when there are none and
        ``visible`` finds nothing (another organization's resource, or none). Rows the caller
        sees are of a resource they may see: ``visible`` is asked only after an empty answer,
        or, for an answer that is ``often_empty`` (the live ones), with the query, in the
        same round trip."""
        statements = [(query, parameters)]
        if visible and often_empty:
            statements.append((visible, parameters))
        async with pool.connection() as connection:
            rows, *found = await read_as_viewer(connection, who.viewer, *statements)
            if not rows and visible and not found:
                found = await read_as_viewer(connection, who.viewer, (visible, parameters))
        if not rows and visible and not found[0]:
            raise ApiError(404, "not_found", f"no {what} you may see")
        return rows

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    async def readyz() -> Json:
        """The database answers and the marts are built; the age of the last build."""
        try:
            async with pool.connection() as connection:
                built = await (await connection.execute(
                    "select max(built_at), now() - max(built_at) from monitoring.build_watermarks"
                )).fetchone()  # fmt: skip
        except psycopg.Error as error:
            message = str(error).splitlines()[0]
            return Json(error_body("not_ready", message), 503)
        if built[0] is None:
            return Json(error_body("not_ready", "the marts are not built yet"), 503)
        age = round(built[1].total_seconds())
        return Json(
            {
                "status": "ready",
                "last_build_at": built[0].isoformat(),
                "last_build_age_seconds": age,
            }
        )

    @app.get("/v1/organizations/{organization_id}/dashboard", tags=["dashboards"])
    async def organization_dashboard(
        who: Caller,
        organization_id: UUID,
        month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
    ) -> Json:
        """The specification's 3.1, corrected: the month's totals, savings % = total savings /
        total baseline (analytics.organization_cost_dashboard)."""
        parameters = {"organization_id": organization_id, "month": parse_month(month)}
        rows = await read(who, DASHBOARD, parameters, ORGANIZATION_VISIBLE, "organization")
        if not rows:
            raise ApiError(404, "not_found", f"no tasks of this organization in {month}")
        return Json(rows[0])

    @app.get("/v1/organizations/{organization_id}/savings/today", tags=["dashboards"])
    async def savings_today(who: Caller, organization_id: UUID) -> Json:
        """The specification's 3.2: today's savings of completed tasks so far, the marts plus
        the live layer (analytics.live_savings_today)."""
        parameters = {"organization_id": organization_id}
        rows = await read(who, SAVINGS_TODAY, parameters, ORGANIZATION_VISIBLE, "organization",
                          often_empty=True)  # fmt: skip
        empty = {"organization_id": str(organization_id), "completed_tasks": 0,
                 "total_savings_usd": "0"}  # fmt: skip
        return Json(rows[0] if rows else empty)

    @app.get("/v1/providers/comparison", tags=["dashboards"])
    async def provider_comparison(
        who: Caller,
        task_type: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$")],
        month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
    ) -> Json:
        """The specification's 3.3, corrected: every provider's success rate, durations and
        cost for a task type and month (analytics.provider_comparison_monthly)."""
        parameters = {"task_type": task_type, "month": parse_month(month)}
        return Json({"providers": await read(who, PROVIDER_COMPARISON, parameters)})

    @app.get("/v1/teams/{team_id}/productivity", tags=["dashboards"])
    async def team_productivity(
        who: Caller,
        team_id: UUID,
        week: Annotated[date, Query(description="the week's Monday, YYYY-MM-DD")],
    ) -> Json:
        """The specification's 3.4: a team's developers for a week, ranked by tasks
        (analytics.team_productivity_weekly)."""
        if week.isoweekday() != 1:
            raise ApiError(422, "invalid_parameter", f"week: {week} is not a Monday", "week")
        parameters = {"team_id": team_id, "week": week}
        return Json(
            {"developers": await read(who, TEAM_PRODUCTIVITY, parameters, TEAM_VISIBLE, "team")}
        )

    @app.get("/v1/organizations/{organization_id}/series", tags=["series"])
    async def series(
        who: Caller,
        organization_id: UUID,
        start: date,
        end: date,
        grain: Annotated[str, Query(pattern="^(daily|weekly|monthly)$")] = "daily",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
        page: PageNumber = 1,
        page_size: PageSize = None,
    ) -> Response:
        """An organization's tasks, cost, baseline and savings per day, week or month
        (analytics.organization_analytics), as JSON or CSV, a page at a time."""
        check_range(start, end)
        rows_page = Page(page, page_size)
        parameters = {"organization_id": organization_id, "grain": grain, "start": start,
                      "end": end, **rows_page.parameters}  # fmt: skip
        rows = await read(who, SERIES, parameters, ORGANIZATION_VISIBLE, "organization")
        return rows_page.answer(rows, SERIES_COLUMNS, format, grain=grain)

    @app.get("/v1/organizations/{organization_id}/last-five-minutes", tags=["dashboards"])
    async def last_five_minutes(who: Caller, organization_id: UUID) -> Json:
        """The last five minutes per provider: tasks started, completed and failed, cost and
        savings, the marts plus the live layer (analytics.live_last_five_minutes)."""
        parameters = {"organization_id": organization_id}
        rows = await read(who, LAST_FIVE_MINUTES, parameters, ORGANIZATION_VISIBLE,
                          "organization", often_empty=True)  # fmt: skip
        return Json({"providers": rows})

    @app.get("/v1/metrics", tags=["metrics"])
    async def metrics_query(
        who: Caller,
        metrics: Annotated[str, Query(description=f"comma-separated: {', '.join(METRICS)}")],
        start: date,
        end: date,
        grain: Annotated[str, Query(pattern="^(daily|weekly|monthly)$")] = "monthly",
        group_by: Annotated[str, Query(description="comma-separated: organization, user")] = "",
        organization_id: UUID | None = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
        page: PageNumber = 1,
        page_size: PageSize = None,
    ) -> Response:
        """The custom reporting API: metrics of a fixed set by period (and organization or
        user), over analytics.user_analytics, as JSON or CSV, a page at a time (docs/api.md)."""
        wanted = [name.strip() for name in metrics.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in METRICS]
        if unknown or not wanted:
            named = ", ".join(unknown) or "(none)"
            raise ApiError(400, "unknown_metric",
                           f"unknown metric(s) {named}; valid: {', '.join(METRICS)}",
                           "metrics")  # fmt: skip
        dimensions = [name.strip() for name in group_by.split(",") if name.strip()]
        bad = [name for name in dimensions if name not in DIMENSIONS]
        if bad:
            raise ApiError(400, "unknown_dimension", f"unknown dimension(s) {', '.join(bad)}; "
                           f"valid: {', '.join(DIMENSIONS)}", "group_by")  # fmt: skip
        check_range(start, end)
        rows_page = Page(page, page_size)
        parameters = {"grain": grain, "start": start, "end": end,
                      "organization_id": organization_id, **rows_page.parameters}  # fmt: skip
        query = metrics_sql(wanted, dimensions, organization_id is not None)
        rows = await read(who, query, parameters)
        return rows_page.answer(rows, ["period", *dimensions, *wanted], format, grain=grain)

    return app


def metrics_sql(metrics: list[str], dimensions: list[str], by_organization: bool) -> sql.Composed:
    """The metrics query: names come from METRICS and DIMENSIONS only, values are bound."""
    columns = [sql.SQL("metric_date as period")]
    columns += [sql.SQL("{} as {}").format(sql.Identifier(DIMENSIONS[name]), sql.Identifier(name))
                for name in dimensions]  # fmt: skip
    columns += [sql.SQL(METRICS[name] + " as {}").format(sql.Identifier(name)) for name in metrics]
    keys = [sql.SQL("metric_date")] + [sql.Identifier(DIMENSIONS[name]) for name in dimensions]
    condition = sql.SQL(
        "aggregation_period = %(grain)s and metric_date >= %(start)s and metric_date <= %(end)s"
    )
    if by_organization:
        condition += sql.SQL(" and organization_id = %(organization_id)s")
    return sql.SQL(
        "select {} from analytics.user_analytics where {} group by {} order by {} "
        "limit %(limit)s offset %(offset)s"
    ).format(
        sql.SQL(", ").join(columns), condition, sql.SQL(", ").join(keys), sql.SQL(", ").join(keys)
    )
