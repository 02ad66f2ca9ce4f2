"""The reporting API's front (docs/api.md): every ``/v1/`` request passes through here before
the routes see it.

- **Who**: the bearer key names the caller (``keys.authenticate``); a valid key is remembered
  for WAREHOUSE_API_KEY_CACHE_SECONDS (5), so that a cached answer costs no database round
  trip: a revoked key stops working within that time. No key, or an unknown, revoked or
  expired one: 401.
- **Cache**: a finished answer (200, or the 404 of a resource the caller may not see) is kept
  per caller and query (path and sorted parameters) for WAREHOUSE_API_CACHE_SECONDS (30), in
  this process or in Redis (REDIS_URL), shared by several API processes; the same request from
  the same caller within that time is answered from it, without the routes or the database.
  Two callers never share an answer: the key holds the user and role.
- **Log**: every request goes to ``api.requests`` (key, user, endpoint, status, duration;
  never the key), written in batches by a task of the event loop (each second, and when the
  API stops), off the request's path.

Everything here runs on the event loop: the database (psycopg's asynchronous pool) and Redis
(its asyncio client) are awaited, never called from worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from psycopg_pool import AsyncConnectionPool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warehouse.api import keys

logger = logging.getLogger("warehouse.api")

CACHED_STATUSES = (200, 404)


def cache_seconds() -> float:
    return float(os.environ.get("WAREHOUSE_API_CACHE_SECONDS", "30"))


def key_cache_seconds() -> float:
    return float(os.environ.get("WAREHOUSE_API_KEY_CACHE_SECONDS", "5"))


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


@dataclass(frozen=True)
class Stored:
    """A finished answer: status, content type, body and the route's path template."""

    status: int
    content_type: str
    body: bytes
    endpoint: str


class Expiring:
    """Values for ``seconds`` each, in this process, at most ``capacity`` of them."""

    def __init__(self, seconds: float, capacity: int = 10_000) -> None:
        self.seconds, self.capacity = seconds, capacity
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: Any, value: Any) -> None:
        if self.seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.capacity:
                    self._entries.clear()
            self._entries[key] = (now + self.seconds, value)


class MemoryAnswers:
    """The answers in this process's memory, for ``seconds`` each."""

    def __init__(self, seconds: float) -> None:
        self._kept = Expiring(seconds)

    async def get(self, key: Any) -> Stored | None:
        return self._kept.get(key)

    async def put(self, key: Any, value: Stored) -> None:
        self._kept.put(key, value)

    async def close(self) -> None:
        pass


class RedisAnswers:
    """The answers in Redis (``REDIS_URL``), shared by several API processes: each under a
    digest of its caller and query, expiring after ``seconds``."""

    def __init__(self, url: str, seconds: float) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url)
        self.seconds = seconds

    @staticmethod
    def _name(key: Any) -> str:
        return "warehouse-api:" + hashlib.sha256(repr(key).encode("utf-8")).hexdigest()

    async def get(self, key: Any) -> Stored | None:
        stored = await self.client.get(self._name(key))
        if stored is None:
            return None
        status, content_type, body, endpoint = json.loads(stored)
        return Stored(status, content_type, body.encode("utf-8"), endpoint)

    async def put(self, key: Any, value: Stored) -> None:
        if self.seconds <= 0:
            return
        fields = [value.status, value.content_type, value.body.decode("utf-8"), value.endpoint]
        await self.client.set(self._name(key), json.dumps(fields), ex=max(1, round(self.seconds)))

    async def close(self) -> None:
        await self.client.aclose()


def make_answers() -> MemoryAnswers | RedisAnswers:
    """Redis when REDIS_URL is set, else this process's memory."""
    url = os.environ.get("REDIS_URL", "")
    return RedisAnswers(url, cache_seconds()) if url else MemoryAnswers(cache_seconds())


class RequestLog:
    """``api.requests`` rows, gathered in memory and written by a task of the event loop with
    one COPY each ``interval`` seconds (and on ``close``). If the database refuses a batch, the
    rows wait for the next one (at most ``capacity``; older ones are dropped, with a warning).
    Only the event loop's own code calls it: no lock is needed."""

    COLUMNS = "requested_at, key_id, user_id, method, endpoint, status, duration_ms"
    # Formatting a row costs a few microseconds of the event loop: a second of 8,000 cached
    # answers would hold it 25 ms in one piece.
    ROWS_BETWEEN_REQUESTS = 500

    def __init__(self, pool: AsyncConnectionPool, interval: float = 1.0, capacity: int = 100_000):
        self.pool, self.interval, self.capacity = pool, interval, capacity
        self._rows: list[tuple] = []
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        """Writes each ``interval`` from now on (on the running event loop)."""
        self._task = asyncio.create_task(self._run(), name="api-request-log")

    def add(self, who: keys.Caller | None, method: str, endpoint: str, status: int,
            requested_at: datetime, duration_ms: float) -> None:  # fmt: skip
        row = (requested_at, who.key_id if who else None, who.viewer.user_id if who else None,
               method, endpoint, status, round(duration_ms, 2))  # fmt: skip
        self._rows.append(row)

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            statement = f"copy api.requests ({self.COLUMNS}) from stdin"
            async with (
                self.pool.connection() as connection,
                connection.cursor() as cursor,
                cursor.copy(statement) as copy,
            ):
                for number, row in enumerate(rows, 1):
                    await copy.write_row(row)
                    if number % self.ROWS_BETWEEN_REQUESTS == 0:
                        await asyncio.sleep(0)  # requests go on while a busy second is written
        except Exception as error:  # the database is away: keep the rows for the next flush
            dropped = len(rows) + len(self._rows) - self.capacity
            self._rows = (rows + self._rows)[-self.capacity :]
            logger.warning("api.requests: %s rows not written yet (%s)%s", len(rows),
                           type(error).__name__,
                           f"; {dropped} dropped" if dropped > 0 else "")  # fmt: skip

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            await self.flush()

    async def close(self) -> None:
        """Stops the writer once its flush in progress, if any, has ended (cancelled in the
        middle of its COPY, that flush's rows were lost), and writes what is left."""
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.flush()


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


async def _send_whole(send: Send, status: int, content_type: str, body: bytes,
                      cache: str | None = None) -> None:  # fmt: skip
    headers = [(b"content-type", content_type.encode("latin-1")),
               (b"content-length", str(len(body)).encode("ascii"))]  # fmt: skip
    if cache is not None:
        headers.append((b"x-cache", cache.encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gateway:
    """ASGI middleware: the caller, the answer cache and the request log of ``/v1/``
    requests (the module's docstring). Other paths (health, docs) pass straight through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        pool: AsyncConnectionPool,
        answers: MemoryAnswers | RedisAnswers,
        log: RequestLog,
    ) -> None:
        self.app, self.pool, self.answers, self.log = app, pool, answers, log
        self.identities = Expiring(key_cache_seconds())
        self._lookups: dict[bytes, asyncio.Future] = {}

    async def caller(self, token: str) -> keys.Caller | None:
        """The key's caller, remembered for a few seconds; the requests that arrive while a
        key is being looked up wait for that one lookup (a busy key's expiry would otherwise
        send one query per request in flight)."""
        if not token:
            return None
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        who = self.identities.get(digest)
        if who is not None:
            return who
        lookup = self._lookups.get(digest)
        if lookup is None:
            lookup = self._lookups[digest] = asyncio.ensure_future(self._authenticate(token))
            lookup.add_done_callback(lambda _: self._lookups.pop(digest, None))
        who = await asyncio.shield(lookup)
        if who is not None:
            self.identities.put(digest, who)
        return who

    async def _authenticate(self, token: str) -> keys.Caller | None:
        async with self.pool.connection() as connection:
            return await keys.authenticate(connection, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        started, requested_at = time.perf_counter(), datetime.now(UTC)
        method = scope["method"]
        who = await self.caller(_bearer(scope))
        if who is None:
            refused = error_body("unauthorized", "send Authorization: Bearer <API key> "
                                 "(an unknown, revoked or expired key is refused)")  # fmt: skip
            await JSONResponse(refused, 401)(scope, receive, send)
            self.log.add(None, method, scope["path"], 401, requested_at,
                         (time.perf_counter() - started) * 1000)  # fmt: skip
            return
        scope.setdefault("state", {})["caller"] = who
        query = tuple(sorted(parse_qsl(scope["query_string"].decode("latin-1"), True)))
        key = (who.viewer.user_id, who.viewer.role, scope["path"], query)
        stored = await self.answers.get(key) if method == "GET" else None
        if stored is not None:
            await _send_whole(send, stored.status, stored.content_type, stored.body, "hit")
            self.log.add(who, method, stored.endpoint, stored.status, requested_at,
                         (time.perf_counter() - started) * 1000)  # fmt: skip
            return
        answer = _Answer()
        try:
            await self.app(scope, receive, answer.keeping(send))
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", scope["path"])
            if method == "GET" and route is not None and answer.status in CACHED_STATUSES:
                await self.answers.put(key, Stored(answer.status, answer.content_type,
                                             b"".join(answer.body), endpoint))  # fmt: skip
            self.log.add(who, method, endpoint, answer.status, requested_at,
                         (time.perf_counter() - started) * 1000)  # fmt: skip


@dataclass
class _Answer:
    """The routes' answer as it is sent on (with ``X-Cache: miss``), kept for the cache; a
    500 until the routes answer."""

    status: int = 500
    content_type: str = "application/octet-stream"
    body: list[bytes] = field(default_factory=list)

    def keeping(self, send: Send) -> Send:
        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name == b"content-type":
                        self.content_type = value.decode("latin-1")
                message = {**message, "headers": [*headers, (b"x-cache", b"miss")]}
            elif message["type"] == "http.response.body":
                self.body.append(message.get("body", b""))
            await send(message)

        return keep
