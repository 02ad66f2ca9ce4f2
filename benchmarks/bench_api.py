"""Latency of the reporting API's endpoints on the current warehouse (the demo's: `make demo`).

Starts `warehouse api` twice, cached (WAREHOUSE_API_CACHE_SECONDS=30) and uncached (0), makes an
organization admin's key, and sends each endpoint REQUESTS requests (ten times as many cached:
they take a tenth of the time, and a p95 needs a run long enough that one pause of the machine
is not a twentieth of it) from 8 and then 32 concurrent clients (asyncio on uvloop, aiohttp,
each client one request at a time on a keep-alive connection): p50, p95 and p99 per endpoint,
as the client sees them. Any warehouse: PGDATABASE names it (a 10 M one:
benchmarks/bench_scale.py --build-only). Prints a Markdown table for docs/benchmarks.md.
Targets (docs/api.md): p95 under 50 ms uncached and under 10 ms cached.

    make bench-api        # or: .venv/bin/python -m benchmarks.bench_api --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import psutil
import uvloop

from benchmarks.bench_report import milliseconds
from warehouse import postgres
from warehouse.api import keys

TARGETS_MS = {"uncached": 50, "cached": 10}
CACHED_RUN_FACTOR = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(port: int, cache_seconds: int, log: Path, workers: int = 1) -> subprocess.Popen:
    environment = {**os.environ, "WAREHOUSE_API_CACHE_SECONDS": str(cache_seconds)}
    process = subprocess.Popen(
        [sys.executable, "-m", "warehouse.cli", "api", "--port", str(port),
         "--workers", str(workers)],
        env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"the API did not start; its log: {log}")


def endpoints(organization_id: str, team_id: str, today: date) -> dict[str, tuple[str, dict]]:
    """Each endpoint's path and parameters, for the data's last day ``today``."""
    month = today.strftime("%Y-%m")
    monday = today - timedelta(days=today.weekday() + 7)
    start = today.replace(day=1)
    return {
        "3.1 dashboard": (f"/v1/organizations/{organization_id}/dashboard", {"month": month}),
        "3.2 savings today": (f"/v1/organizations/{organization_id}/savings/today", {}),
        "3.3 provider comparison": (
            "/v1/providers/comparison",
            {"task_type": "bug_fix", "month": month},
        ),
        "3.4 team productivity": (
            f"/v1/teams/{team_id}/productivity",
            {"week": monday.isoformat()},
        ),
        "series (daily, month)": (
            f"/v1/organizations/{organization_id}/series",
            {"start": start.isoformat(), "end": today.isoformat()},
        ),
        "last five minutes": (f"/v1/organizations/{organization_id}/last-five-minutes", {}),
        "metrics": (
            "/v1/metrics",
            {
                "metrics": "cost_usd,savings_usd,savings_percentage",
                "start": start.isoformat(),
                "end": today.isoformat(),
            },
        ),
    }


async def measure(base: str, token: str, path: str, params: dict, requests: int,
                  clients: int) -> list[float]:  # fmt: skip
    """Milliseconds per request, ``requests`` sent by ``clients`` concurrent connections (each
    one request at a time, with keep-alive), as seen by the client."""
    timings: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:
        remaining = iter(range(requests))

        async def client() -> None:
            for _ in remaining:
                started = time.perf_counter()
                async with session.get(path, params=params) as answer:
                    await answer.read()
                    timings.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()

        await asyncio.gather(*(client() for _ in range(clients)))
    return timings


class CpuMeter:
    """CPU seconds spent by the load generator (this process), the API's processes and the
    PostgreSQL server's (its postmaster and every backend), between two readings: where a
    run's time goes on a machine whose cores all three share."""

    def __init__(self, api: subprocess.Popen) -> None:
        self.api = psutil.Process(api.pid)
        with postgres.connect(autocommit=True) as connection:
            directory = connection.execute("show data_directory").fetchone()[0]
        postmaster_pid = int(Path(directory, "postmaster.pid").read_text().split()[0])
        self.server = psutil.Process(postmaster_pid)

    @staticmethod
    def _seconds(process: psutil.Process) -> float:
        total = 0.0
        for member in [process, *process.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def read(self) -> dict[str, float]:
        own = psutil.Process().cpu_times()
        return {"client": own.user + own.system, "api": self._seconds(self.api),
                "postgres": self._seconds(self.server)}  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class NothingToMeasureError(RuntimeError):
    """The warehouse has no organization admin with a team (not built, or empty)."""


def measure_endpoints(requests: int, workers: int, scratch: Path,
                      log: Callable[[str], None] = print) -> dict:  # fmt: skip
    """Every endpoint, uncached and cached, with 8 and then 32 clients, on the warehouse the
    libpq variables name: the database, its tasks and one row per endpoint, cache mode and
    clients (p50, p95, p99 in ms, and whether p95 met its target)."""
    with postgres.connect(autocommit=True) as connection:
        row = connection.execute(
            "select users.id, users.organization_id, teams.id from analytics.users "
            "inner join analytics.teams on teams.organization_id = users.organization_id "
            "where users.role = 'org_admin' and not users.is_deleted "
            "order by users.organization_id, teams.name limit 1"
        ).fetchone()
        if row is None:
            raise NothingToMeasureError("no organization admin with a team: run `make demo` first")
        user_id, organization_id, team_id = row
        token = keys.create_key(connection, user_id, date.today() + timedelta(days=1)).token
        database, tasks, today = connection.execute(
            "select current_database(), (select count(*) from analytics.task_executions), "
            "(select max(metric_date) from analytics.organization_analytics "
            "where organization_id = %s and aggregation_period = 'daily')",
            (organization_id,),
        ).fetchone()
    log(
        f"database {database}: {tasks:,} tasks; {requests} requests per endpoint and run "
        f"({CACHED_RUN_FACTOR * requests} cached); "
        f"{workers} API process(es); organization {organization_id}, its last day {today}"
    )
    rows = []
    servers: dict[str, tuple[int, subprocess.Popen]] = {}
    try:
        for mode, seconds in (("uncached", 0), ("cached", 30)):
            port = free_port()
            servers[mode] = (port, start_api(port, seconds, scratch / f"{mode}.log", workers))
        meters = {mode: CpuMeter(process) for mode, (_, process) in servers.items()}
        for name, (path, params) in endpoints(str(organization_id), str(team_id), today).items():
            for mode, (port, _) in servers.items():
                base = f"http://127.0.0.1:{port}"
                if mode == "cached":  # fill the cache first
                    uvloop.run(measure(base, token, path, params, 1, 1))
                sent = requests * (CACHED_RUN_FACTOR if mode == "cached" else 1)
                for clients in (8, 32):
                    before, started = meters[mode].read(), time.perf_counter()
                    timings = uvloop.run(measure(base, token, path, params, sent, clients))
                    seconds, after = time.perf_counter() - started, meters[mode].read()
                    p95 = percentile(timings, 0.95)
                    rows.append({
                        "endpoint": name, "cache": mode, "clients": clients,
                        "p50": percentile(timings, 0.5), "p95": p95,
                        "p99": percentile(timings, 0.99), "target": TARGETS_MS[mode],
                        "met": p95 < TARGETS_MS[mode], "per_second": sent / seconds,
                        # CPU ms per request of each part (the cores' share of a request)
                        "cpu_ms": {part: 1000 * (after[part] - before[part]) / sent
                                   for part in after},
                    })  # fmt: skip
                    log(f"  {name:<24} {mode:<8} {clients:>2} clients: p95 {p95:7.1f} ms")
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=30)
    return {"database": database, "tasks": tasks, "requests": requests, "workers": workers,
            "rows": rows}  # fmt: skip


def table(rows: list[dict]) -> list[str]:
    """The Markdown table of ``measure_endpoints``' rows."""
    lines = ["| endpoint | cache | clients | p50 ms | p95 ms | p99 ms | target p95 | requests/s "
             "| CPU ms per request: client / API / PostgreSQL |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        met = "met" if row["met"] else "not met"
        cpu = " / ".join(f"{row['cpu_ms'][part]:.2f}" for part in ("client", "api", "postgres"))
        lines.append(f"| {row['endpoint']} | {row['cache']} | {row['clients']} | "
                     f"{milliseconds(row['p50'])} | {milliseconds(row['p95'])} | "
                     f"{milliseconds(row['p99'])} | "
                     f"< {row['target']} ms: {met} | {row['per_second']:,.0f} "
                     f"| {cpu} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and run")
    parser.add_argument("--workers", type=int, default=1, help="API processes (uvicorn workers)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            measured = measure_endpoints(args.requests, args.workers, Path(scratch),
                                         lambda line: print(line, flush=True))  # fmt: skip
        except (NothingToMeasureError, RuntimeError) as error:
            raise SystemExit(str(error)) from None
    print("", *table(measured["rows"]), sep="\n")


if __name__ == "__main__":
    main()
