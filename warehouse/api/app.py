"""The reporting API (docs/api.md): the specification's dashboard queries (3.1 to 3.4) done
right, and an organization's cost, baseline and savings series, as JSON (and CSV for the
series), for the platform's product and its customers' scripts.

Every request carries a bearer key (``warehouse api-key create``); it runs as the key's user,
under their reader role with ``app.user_id`` set (warehouse/readers.py), so the marts' row-level
security decides what it sees: another organization's resource is simply not found (404).
Answers are cached per caller and query for WAREHOUSE_API_CACHE_SECONDS (30), in the process or
in Redis (REDIS_URL) when several API processes share the load. Every request is
recorded in ``api.requests`` (key, user, endpoint, status, duration; never the key).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg import sql
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from warehouse import postgres, settings
from warehouse.api import keys
from warehouse.readers import as_viewer

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
GRAINS = ("daily", "weekly", "monthly")


def cache_seconds() -> float:
    return float(os.environ.get("WAREHOUSE_API_CACHE_SECONDS", "30"))


def pool_size() -> int:
    """Database connections the API keeps (WAREHOUSE_API_POOL_SIZE)."""
    return int(os.environ.get("WAREHOUSE_API_POOL_SIZE", "10"))


def max_range_days() -> int:
    return int(os.environ.get("WAREHOUSE_API_MAX_RANGE_DAYS", "400"))


class ApiError(Exception):
    """An error answer: HTTP status, a stable code and a message (and the field, if any)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


class Cache:
    """Answers per caller and query, for ``seconds``; in this process."""

    def __init__(self, seconds: float, capacity: int = 10_000) -> None:
        self.seconds, self.capacity = seconds, capacity
        self._entries: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> tuple[Any, bool]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1], True
        value = compute()
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + self.seconds, value)
        return value, False


class RedisCache:
    """The same cache in Redis (``REDIS_URL``), shared by several API processes: each answer
    under a digest of its caller and query, expiring after ``seconds``."""

    def __init__(self, url: str, seconds: float) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.seconds = seconds

    def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> tuple[Any, bool]:
        name = "warehouse-api:" + hashlib.sha256(repr(key).encode("utf-8")).hexdigest()
        stored = self.client.get(name)
        if stored is not None:
            return _thaw(json.loads(stored)), True
        value = compute()
        self.client.set(name, json.dumps(_freeze(value)), ex=max(1, round(self.seconds)))
        return value, False


def _freeze(value: Any) -> dict[str, Any]:
    if isinstance(value, ApiError):
        return {"error": [value.status, value.code, value.message, value.field]}
    if isinstance(value, tuple):
        return {"text": list(value)}
    return {"json": value}


def _thaw(stored: dict[str, Any]) -> Any:
    if "error" in stored:
        return ApiError(*stored["error"])
    if "text" in stored:
        return tuple(stored["text"])
    return stored["json"]


def make_cache() -> Cache | RedisCache:
    """Redis when REDIS_URL is set, else this process's memory."""
    url = os.environ.get("REDIS_URL", "")
    return RedisCache(url, cache_seconds()) if url else Cache(cache_seconds())


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: a JSON number would round money
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _rows(connection: psycopg.Connection, query: str, parameters: dict) -> list[dict[str, Any]]:
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return [
            {name: _json_value(value) for name, value in row.items()}
            for row in cursor.execute(query, parameters).fetchall()
        ]


def check_range(start: date, end: date) -> None:
    """A start-to-end range the API serves: end not before start, at most the limit."""
    if end < start:
        raise ApiError(422, "invalid_parameter", "end: before start", "end")
    if (end - start) > timedelta(days=max_range_days()):
        raise ApiError(422, "range_too_long",
                       f"start to end spans {(end - start).days} days; the limit is "
                       f"{max_range_days()} (WAREHOUSE_API_MAX_RANGE_DAYS)", "end")  # fmt: skip


def csv_answer(columns: list[str], rows: list[dict[str, Any]]) -> tuple[str, str]:
    """Rows as a CSV answer (media type, text) for the cache and ``answer``."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return ("text/csv; charset=utf-8", text.getvalue())


SERIES_COLUMNS = [
    "metric_date", "period_end", "total_tasks", "completed_tasks", "total_cost_usd",
    "total_baseline_cost_usd", "total_savings_usd", "savings_percentage",
]  # fmt: skip


def parse_month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


def caller(request: Request) -> keys.Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <API key>")
    with request.app.state.pool.connection() as connection:
        found = keys.authenticate(connection, token.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "the API key is unknown, revoked or expired")
    request.state.caller = found
    return found


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
    pool = ConnectionPool(
        kwargs=settings.connection().keywords(),
        min_size=1,
        max_size=pool_size(),
        open=False,
        name="warehouse-api",
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        pool.open(wait=True)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Generic Corp ROI warehouse API",
        version="1",
        description="The marts' dashboards and series, per caller (docs/api.md).",
        lifespan=lifespan,
    )
    app.state.pool = pool
    cache = make_cache()
    with postgres.connect(autocommit=True) as connection:
        keys.ensure_tables(connection)

    @app.middleware("http")
    async def record(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", request.url.path)
        if endpoint not in ("/healthz", "/readyz", "/docs", "/openapi.json"):
            with pool.connection() as connection:
                keys.record_request(connection, getattr(request.state, "caller", None),
                                    request.method, endpoint, response.status_code,
                                    (time.perf_counter() - started) * 1000)  # fmt: skip
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.message, error.field), error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "error")
        return JSONResponse(error_body(code, str(error.detail)), error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part not in ("path", "query"))
        return JSONResponse(error_body("invalid_parameter", f"{field}: {first['msg']}", field), 422)

    def answer(request: Request, who: keys.Caller, compute: Callable[[], Any]) -> Response:
        key = (who.viewer.user_id, who.viewer.role, request.url.path,
               tuple(sorted(request.query_params.multi_items())))  # fmt: skip
        value, hit = cache.get_or_compute(key, compute)
        if isinstance(value, ApiError):
            raise value
        if isinstance(value, tuple):  # (media type, body)
            return Response(value[1], media_type=value[0], headers={"X-Cache": _hit(hit)})
        return JSONResponse(value, headers={"X-Cache": _hit(hit)})

    def read(who: keys.Caller, query: str, parameters: dict,
             visible: str | None = None, what: str = "") -> list[dict] | ApiError:  # fmt: skip
        with pool.connection() as pooled, as_viewer(who.viewer, pooled) as connection:
            if visible and connection.execute(visible, parameters).fetchone() is None:
                return ApiError(404, "not_found", f"no {what} you may see")
            return _rows(connection, query, parameters)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def readyz() -> JSONResponse:
        """The database answers and the marts are built; the age of the last build."""
        try:
            with postgres.connect(autocommit=True) as connection:
                built = connection.execute(
                    "select max(built_at), now() - max(built_at) from monitoring.build_watermarks"
                ).fetchone()
        except psycopg.Error as error:
            message = str(error).splitlines()[0]
            return JSONResponse(error_body("not_ready", message), 503)
        if built[0] is None:
            return JSONResponse(error_body("not_ready", "the marts are not built yet"), 503)
        age = round(built[1].total_seconds())
        return JSONResponse(
            {
                "status": "ready",
                "last_build_at": built[0].isoformat(),
                "last_build_age_seconds": age,
            }
        )

    @app.get("/v1/organizations/{organization_id}/dashboard", tags=["dashboards"])
    def organization_dashboard(
        request: Request,
        who: Caller,
        organization_id: UUID,
        month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
    ) -> Response:
        """The specification's 3.1, corrected: the month's totals, savings % = total savings /
        total baseline (analytics.organization_cost_dashboard)."""
        parameters = {"organization_id": organization_id, "month": parse_month(month)}

        def compute() -> Any:
            rows = read(who, DASHBOARD, parameters, ORGANIZATION_VISIBLE, "organization")
            if isinstance(rows, ApiError):
                return rows
            if not rows:
                return ApiError(404, "not_found", f"no tasks of this organization in {month}")
            return rows[0]

        return answer(request, who, compute)

    @app.get("/v1/organizations/{organization_id}/savings/today", tags=["dashboards"])
    def savings_today(request: Request, who: Caller, organization_id: UUID) -> Response:
        """The specification's 3.2: today's savings of completed tasks so far, the marts plus
        the live layer (analytics.live_savings_today)."""
        parameters = {"organization_id": organization_id}

        def compute() -> Any:
            rows = read(who, SAVINGS_TODAY, parameters, ORGANIZATION_VISIBLE, "organization")
            if isinstance(rows, ApiError):
                return rows
            empty = {"organization_id": str(organization_id), "completed_tasks": 0,
                     "total_savings_usd": "0"}  # fmt: skip
            return rows[0] if rows else empty

        return answer(request, who, compute)

    @app.get("/v1/providers/comparison", tags=["dashboards"])
    def provider_comparison(
        request: Request,
        who: Caller,
        task_type: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$")],
        month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
    ) -> Response:
        """The specification's 3.3, corrected: every provider's success rate, durations and
        cost for a task type and month (analytics.provider_comparison_monthly)."""
        parameters = {"task_type": task_type, "month": parse_month(month)}
        return answer(request, who, lambda: {"providers": read(who, PROVIDER_COMPARISON,
                                                                parameters)})  # fmt: skip

    @app.get("/v1/teams/{team_id}/productivity", tags=["dashboards"])
    def team_productivity(
        request: Request,
        who: Caller,
        team_id: UUID,
        week: Annotated[date, Query(description="the week's Monday, YYYY-MM-DD")],
    ) -> Response:
        """The specification's 3.4: a team's developers for a week, ranked by tasks
        (analytics.team_productivity_weekly)."""
        if week.isoweekday() != 1:
            raise ApiError(422, "invalid_parameter", f"week: {week} is not a Monday", "week")
        parameters = {"team_id": team_id, "week": week}

        def compute() -> Any:
            rows = read(who, TEAM_PRODUCTIVITY, parameters, TEAM_VISIBLE, "team")
            return rows if isinstance(rows, ApiError) else {"developers": rows}

        return answer(request, who, compute)

    @app.get("/v1/organizations/{organization_id}/series", tags=["series"])
    def series(
        request: Request,
        who: Caller,
        organization_id: UUID,
        start: date,
        end: date,
        grain: Annotated[str, Query(pattern="^(daily|weekly|monthly)$")] = "daily",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """An organization's tasks, cost, baseline and savings per day, week or month
        (analytics.organization_analytics), as JSON or CSV."""
        check_range(start, end)
        parameters = {"organization_id": organization_id, "grain": grain, "start": start,
                      "end": end}  # fmt: skip

        def compute() -> Any:
            rows = read(who, SERIES, parameters, ORGANIZATION_VISIBLE, "organization")
            if isinstance(rows, ApiError) or format == "json":
                return rows if isinstance(rows, ApiError) else {"grain": grain, "rows": rows}
            return csv_answer(SERIES_COLUMNS, rows)

        return answer(request, who, compute)

    @app.get("/v1/organizations/{organization_id}/last-five-minutes", tags=["dashboards"])
    def last_five_minutes(request: Request, who: Caller, organization_id: UUID) -> Response:
        """The last five minutes per provider: tasks started, completed and failed, cost and
        savings, the marts plus the live layer (analytics.live_last_five_minutes)."""
        parameters = {"organization_id": organization_id}

        def compute() -> Any:
            rows = read(who, LAST_FIVE_MINUTES, parameters, ORGANIZATION_VISIBLE, "organization")
            return rows if isinstance(rows, ApiError) else {"providers": rows}

        return answer(request, who, compute)

    @app.get("/v1/metrics", tags=["metrics"])
    def metrics_query(
        request: Request,
        who: Caller,
        metrics: Annotated[str, Query(description=f"comma-separated: {', '.join(METRICS)}")],
        start: date,
        end: date,
        grain: Annotated[str, Query(pattern="^(daily|weekly|monthly)$")] = "monthly",
        group_by: Annotated[str, Query(description="comma-separated: organization, user")] = "",
        organization_id: UUID | None = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """The custom reporting API: metrics of a fixed set by period (and organization or
        user), over analytics.user_analytics, as JSON or CSV (docs/api.md)."""
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
        query = metrics_sql(wanted, dimensions, organization_id is not None)
        parameters = {"grain": grain, "start": start, "end": end,
                      "organization_id": organization_id}  # fmt: skip

        def compute() -> Any:
            with pool.connection() as pooled, as_viewer(who.viewer, pooled) as connection:
                rows = _rows(connection, query, parameters)
            if format == "json":
                return {"grain": grain, "rows": rows}
            return csv_answer(["period", *dimensions, *wanted], rows)

        return answer(request, who, compute)

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
        "select {} from analytics.user_analytics where {} group by {} order by {}"
    ).format(
        sql.SQL(", ").join(columns), condition, sql.SQL(", ").join(keys), sql.SQL(", ").join(keys)
    )


def _hit(hit: bool) -> str:
    return "hit" if hit else "miss"
