"""Latency of the reporting API's endpoints on the current warehouse (the demo's: `make demo`).

Starts `warehouse api` twice, cached (WAREHOUSE_API_CACHE_SECONDS=30) and uncached (0), makes an
organization admin's key, and sends each endpoint REQUESTS requests from 8 and then 32
concurrent clients (asyncio on uvloop, aiohttp, each client one request at a time on a
keep-alive connection): p50, p95 and p99 per endpoint, as the client sees them. Any warehouse:
PGDATABASE names it (a 10 M one: benchmarks/bench_scale.py --build-only). Prints a
Markdown table for docs/benchmarks.md. Targets (docs/api.md): p95 under 50 ms uncached and
under 10 ms cached.

    make bench-api        # or: .venv/bin/python -m benchmarks.bench_api --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import uvloop

from warehouse import postgres
from warehouse.api import keys

TARGETS_MS = {"uncached": 50, "cached": 10}


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
    raise SystemExit(f"the API did not start; its log: {log}")


def endpoints(organization_id: str, team_id: str) -> dict[str, tuple[str, dict]]:
    today = datetime.now(UTC).date()
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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and run")
    parser.add_argument("--workers", type=int, default=1, help="API processes (uvicorn workers)")
    args = parser.parse_args()
    with postgres.connect(autocommit=True) as connection:
        row = connection.execute(
            "select users.id, users.organization_id, teams.id from analytics.users "
            "inner join analytics.teams on teams.organization_id = users.organization_id "
            "where users.role = 'org_admin' and not users.is_deleted "
            "order by users.organization_id, teams.name limit 1"
        ).fetchone()
        if row is None:
            raise SystemExit("no organization admin with a team: run `make demo` first")
        user_id, organization_id, team_id = row
        token = keys.create_key(connection, user_id, date.today() + timedelta(days=1)).token
        database, tasks = connection.execute(
            "select current_database(), (select count(*) from analytics.task_executions)"
        ).fetchone()
    print(f"database {database}: {tasks:,} tasks; {args.requests} requests per endpoint and "
          f"run; {args.workers} API process(es); organization {organization_id}")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        servers = {
            "uncached": (8601, start_api(8601, 0, Path(scratch) / "uncached.log", args.workers)),
            "cached": (8602, start_api(8602, 30, Path(scratch) / "cached.log", args.workers)),
        }
        try:
            for name, (path, params) in endpoints(str(organization_id), str(team_id)).items():
                for mode, (port, _) in servers.items():
                    base = f"http://127.0.0.1:{port}"
                    if mode == "cached":  # fill the cache first
                        uvloop.run(measure(base, token, path, params, 1, 1))
                    for clients in (8, 32):
                        timings = uvloop.run(
                            measure(base, token, path, params, args.requests, clients)
                        )
                        rows.append((name, mode, clients, timings))
                        print(f"  {name:<24} {mode:<8} {clients:>2} clients: p95 "
                              f"{percentile(timings, 0.95):7.1f} ms", flush=True)  # fmt: skip
        finally:
            for _, process in servers.values():
                process.terminate()
                process.wait(timeout=30)
    print("\n| endpoint | cache | clients | p50 ms | p95 ms | p99 ms | target p95 |")
    print("|---|---|---|---|---|---|---|")
    for name, mode, clients, timings in rows:
        target = TARGETS_MS[mode]
        met = "met" if percentile(timings, 0.95) < target else "not met"
        print(f"| {name} | {mode} | {clients} | {percentile(timings, 0.5):.1f} | "
              f"{percentile(timings, 0.95):.1f} | {percentile(timings, 0.99):.1f} | "
              f"< {target} ms: {met} |")  # fmt: skip


if __name__ == "__main__":
    main()
