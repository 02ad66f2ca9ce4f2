"""Dagster: the code location loads, and real in-process runs (real dbt, the test database)
load landing files, build every asset with green checks, refresh statuses hourly, and raise
exactly the expected alerts.

Dataset of the landing-sensor test (dates relative to now, so freshness checks pass):
  org A (standard tier, no default provider: baseline github_copilot), team A, user A1;
  one github_copilot price; T1 completed 2026-03-01 (cost = baseline, savings 0);
  T2 running since now - 30 min: running as of now, timed_out as of start + 61 min.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.health import HEALTH_ASSET_KEY
from orchestration.defs.reports import REPORTS_ASSET_KEY
from orchestration.defs.resources import (
    LandingDirectory,
    WarehouseResource,
    alerting_resource,
    landing_directory,
)
from tests.test_marts import A1, ORG_A, write
from warehouse import postgres, settings
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths

TEAM_A = "000000c1-0000-4000-8000-000000000000"


@pytest.fixture(scope="session")
def defs(server) -> dg.Definitions:
    """The code location, after `dbt parse` wrote the manifest it reads (as `make manifest`)."""
    run_dbt(["parse", "--target-path", str(settings.project_dir() / "target")])
    return importlib.import_module("orchestration.definitions").defs


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # In memory: the runs' thousands of events are not each written to a SQLite file (that
    # was half of a full build's time here). The tests that need a stored instance make one.
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:
    """A local HTTP server standing in for ALERT_WEBHOOK_URL; collects the JSON posted."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{httpd.server_port}/hook/s3cr3t")
    try:
        yield received
    finally:
        httpd.shutdown()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def reference_data(landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    write(landing / "organizations.csv", [
        {"id": ORG_A, "name": "Org A", "pricing_tier": "standard", "default_provider": ""},
    ])  # fmt: skip
    write(landing / "teams.csv", [{"id": TEAM_A, "organization_id": ORG_A, "name": "Team A"}])
    write(landing / "users.csv", [
        {"id": A1, "organization_id": ORG_A, "team_id": TEAM_A, "role": "developer",
         "created_at": "2026-01-01T00:00:00Z"},
    ])  # fmt: skip
    write(landing / "provider_pricing.csv", [
        {"id": "10000000-0000-4000-8000-000000000001", "provider": "github_copilot",
         "pricing_tier": "", "cost_per_token": "0.00001", "cost_per_request": "0.001",
         "cost_per_minute": "0.01", "effective_from": "2026-01-01T00:00:00Z",
         "effective_until": ""},
    ])  # fmt: skip


def task_row(key: str, start: datetime, status: str, minutes: int | None = 1) -> dict:
    end = start + timedelta(minutes=minutes) if status in ("completed", "failed") else None
    return {
        "id": f"00000000-0000-4000-8000-{key:0>12}", "task_id": key, "user_id": A1,
        "organization_id": ORG_A, "task_type": "bug_fix", "provider": "github_copilot",
        "start_time": iso(start), "end_time": iso(end) if end else "", "tokens_used": 1000,
        "cost_usd": "0", "status": status, "updated_at": iso(end or start),
    }  # fmt: skip


def test_plain_dagster_cli_validates_the_code_location_without_touching_the_database(
    defs, tmp_path
):
    """`dagster definitions validate` from the project root finds the code location through
    [tool.dagster] in pyproject.toml, and loads it with an unreachable database: nothing
    connects or runs dbt at import time outside `dagster dev` (the manifest comes from `make
    manifest`)."""
    env = {
        **os.environ,
        "PGHOST": "/nonexistent/socket",
        "PGPORT": "1",
        "DAGSTER_HOME": str(tmp_path),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    env.pop("DAGSTER_IS_DEV_CLI", None)
    done = subprocess.run(
        ["dagster", "definitions", "validate"],
        cwd=settings.project_dir(),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Validation successful for code location generic_corp_warehouse." in done.stdout


def copy_dbt_project(destination: Path) -> Path:
    """The dbt project's files (no target/) under ``destination``."""
    source = settings.project_dir()
    destination.mkdir()
    for name in ("dbt_project.yml", "profiles", "models", "macros", "seeds", "snapshots"):
        if (source / name).is_dir():
            shutil.copytree(source / name, destination / name)
        elif (source / name).exists():
            shutil.copyfile(source / name, destination / name)
    shutil.copytree(source / "tests" / "dbt", destination / "tests" / "dbt")
    return destination


def test_dagster_dev_prepares_the_manifest_so_an_edited_model_needs_no_parse_step(defs, tmp_path):
    """Under `dagster dev` (DAGSTER_IS_DEV_CLI) loading the code location runs `dbt parse`
    (prepare_if_dev), so a model added since shows up; anywhere else it never parses: without
    a prepared manifest the error says to run `make manifest`."""
    project = copy_dbt_project(tmp_path / "project")
    (project / "models" / "monitoring" / "added_since_last_parse.sql").write_text(
        "select 1 as probe_id\n", encoding="utf-8"
    )
    code = (
        "from orchestration.definitions import defs\n"
        "print(sorted('/'.join(key.path) for key in "
        "defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] == 'monitoring'))\n"
    )
    env = {
        **os.environ,
        "WAREHOUSE_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project / "profiles"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    env.pop("DAGSTER_IS_DEV_CLI", None)
    env.pop("DBT_TARGET_PATH", None)

    outside_dev = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert outside_dev.returncode == 1
    assert (
        f"FileNotFoundError: {project / 'target' / 'manifest.json'} is missing: run `make "
        "manifest` (dbt parse) before loading the Dagster code outside `dagster dev`"
    ) in outside_dev.stderr

    in_dev = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DAGSTER_IS_DEV_CLI": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert in_dev.returncode == 0, in_dev.stderr
    assert in_dev.stdout.strip() == str([
        "monitoring/added_since_last_parse", "monitoring/data_quality_daily",
        "monitoring/database_health", "monitoring/forecast_backtest",
        "monitoring/invalid_status_transitions", "monitoring/quarantined_billing_records",
        "monitoring/quarantined_task_executions",
        "monitoring/reconciliation_daily", "monitoring/redactions_daily",
    ])  # fmt: skip
    assert (project / "target" / "manifest.json").exists()


def ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_lineage_reads_landing_raw_staging_intermediate_marts_monitoring(defs):
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey
    raw_tasks = key(["raw", "task_executions"])
    layers = {
        raw_tasks: "raw",
        key(["staging", "stg_platform__task_executions"]): "staging",
        key(["staging", "int_task_costs"]): "intermediate",
        key(["analytics", "task_executions"]): "marts",
        key(["analytics", "organization_analytics"]): "marts",
        key(["monitoring", "data_quality_daily"]): "monitoring",
    }
    assert {asset: graph.get(asset).group_name for asset in layers} == layers
    chain = list(layers)
    assert raw_tasks in ancestors(graph, key(["monitoring", "data_quality_daily"]))
    assert key(["staging", "int_task_costs"]) in ancestors(graph, chain[3])
    assert graph.get(raw_tasks).parent_keys == set()  # raw is produced by the load, from files
    # every dbt source is a raw table the load produces: no dangling external assets
    loaded = set(defs.resolve_assets_def(raw_tasks).keys)
    assert {k for k in graph.get_all_asset_keys() if k.path[0] == "raw"} == loaded
    assert all(graph.get(k).is_materializable for k in graph.get_all_asset_keys())
    assert ancestors(graph, key(["staging", "stg_platform__task_executions"])) == {raw_tasks}
    # dbt tests (source tests too) and source freshness are asset checks
    checks = graph.asset_check_keys
    assert dg.AssetCheckKey(raw_tasks, "dbt_source_freshness") in checks
    assert dg.AssetCheckKey(raw_tasks, "source_not_null_platform_task_executions_id") in checks
    assert dg.AssetCheckKey(key(["analytics", "task_executions"]), "unique_task_executions_id") in (
        checks
    )
    assert not any(check.asset_key == key(["raw", "rejected_rows"]) and check.name ==
                   "dbt_source_freshness" for check in checks)  # fmt: skip
    policy = graph.get(key(["analytics", "organization_analytics"])).freshness_policy
    assert (policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta()) == (
        timedelta(hours=25),
        timedelta(hours=24),
    )


def test_schedules_run_daily_and_hourly_in_utc_with_the_tick_as_as_of(defs):
    daily = defs.resolve_schedule_def("daily_build_schedule")
    hourly = defs.resolve_schedule_def("hourly_status_schedule")
    assert (daily.cron_schedule, daily.execution_timezone, daily.job_name) == (
        "0 0 * * *",
        "UTC",
        "daily_build",
    )
    assert (hourly.cron_schedule, hourly.execution_timezone, hourly.job_name) == (
        "30 * * * *",
        "UTC",
        "hourly_status_refresh",
    )
    tick = datetime(2026, 3, 2, tzinfo=UTC)
    request = daily.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
    (run,) = request.run_requests
    assert run.run_config == {
        "ops": {"dbt_warehouse": {"config": {"as_of": "2026-03-02T00:00:00+00:00"}}}
    }
    assert run.run_key == "2026-03-02T00:00:00+00:00"  # a rerun of the tick is the same run
    # Sunday's build tests every row of the incremental marts (the weekly sweep)
    sunday = datetime(2026, 3, 1, tzinfo=UTC)
    request = daily.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=sunday))
    (run,) = request.run_requests
    assert run.run_config == {
        "ops": {
            "dbt_warehouse": {
                "config": {"as_of": "2026-03-01T00:00:00+00:00", "full_test_sweep": True}
            }
        }
    }
    request = hourly.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=sunday))
    assert (
        "full_test_sweep"
        not in request.run_requests[0].run_config["ops"]["dbt_warehouse"]["config"]
    )


HOURLY_ASSETS = {
    dg.AssetKey(["staging", "int_task_costs"]),
    dg.AssetKey(["staging", "int_organization_days"]),
    dg.AssetKey(["staging", "int_user_days"]),
    dg.AssetKey(["staging", "int_provider_days"]),
    dg.AssetKey(["analytics", "task_executions"]),
    dg.AssetKey(["analytics", "routing_decisions"]),
    dg.AssetKey(["analytics", "organization_analytics"]),
    dg.AssetKey(["analytics", "organization_cost_dashboard"]),
    dg.AssetKey(["analytics", "provider_comparison_monthly"]),
    dg.AssetKey(["analytics", "provider_performance_metrics"]),
    dg.AssetKey(["analytics", "team_productivity_weekly"]),
    dg.AssetKey(["analytics", "user_analytics"]),
    dg.AssetKey(["monitoring", "data_quality_daily"]),
    dg.AssetKey(["monitoring", "reconciliation_daily"]),
    dg.AssetKey(["support", "support_organization_daily"]),
    dg.AssetKey(["support", "support_provider_daily"]),
    dg.AssetKey(["analytics", "live_task_executions"]),
    dg.AssetKey(["analytics", "live_savings_today"]),
    dg.AssetKey(["analytics", "live_last_five_minutes"]),
    dg.AssetKey(["staging", "int_live_task_store"]),
    dg.AssetKey(["staging", "int_live_savings_today_cache"]),
    dg.AssetKey(["staging", "int_live_last_five_minutes_cache"]),
    dg.AssetKey(["analytics", "live_savings_today_cached"]),
    dg.AssetKey(["analytics", "live_last_five_minutes_cached"]),
    # the insights read the rollups (docs/insights.md)
    dg.AssetKey(["analytics", "roi_summary"]),
    dg.AssetKey(["analytics", "cost_anomalies"]),
    dg.AssetKey(["analytics", "routing_recommendations"]),
    dg.AssetKey(["analytics", "savings_forecast"]),
    dg.AssetKey(["monitoring", "forecast_backtest"]),
    dg.AssetKey(["analytics", "budget_status"]),
    dg.AssetKey(["analytics", "invoice_reconciliation"]),
}


def test_hourly_refresh_selects_the_models_tagged_hourly_and_everything_downstream(defs):
    """dbt tag `hourly` (int_task_costs and task_executions: their status depends on as_of)
    plus everything downstream, with their tests, and the raw tables' freshness checks."""
    from orchestration.defs.jobs import hourly_status_job

    graph = defs.resolve_asset_graph()
    assert {key for key in graph.get_all_asset_keys() if "hourly" in graph.get(key).tags} == {
        dg.AssetKey(["staging", "int_task_costs"]),
        dg.AssetKey(["analytics", "task_executions"]),
    }
    selection = hourly_status_job.selection
    assert selection.resolve(graph) == HOURLY_ASSETS
    checks = selection.resolve_checks(graph)
    freshness = {check for check in checks if check.name == "dbt_source_freshness"}
    assert {check.asset_key for check in freshness} == {
        dg.AssetKey(["raw", table])
        for table in ("organizations", "teams", "users", "provider_pricing", "task_executions",
                      "routing_decisions", "load_batches")
    }  # fmt: skip
    on_hourly = {check for check in graph.asset_check_keys if check.asset_key in HOURLY_ASSETS}
    assert on_hourly <= checks
    # and the one test outside them that reads a rebuilt model (task_executions)
    pricing = dg.AssetKey(["analytics", "provider_pricing"])
    assert checks - on_hourly - freshness == {
        dg.AssetCheckKey(pricing, "providers_used_have_pricing")
    }


def test_landing_sensor_loads_new_files_and_builds_every_asset_with_green_checks(
    defs, database, instance, tmp_path, monkeypatch
):
    landing = tmp_path / "landing"
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(landing))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    running_since = now - timedelta(minutes=30)
    reference_data(landing)
    write(landing / "task_executions.csv", [
        task_row("1", datetime(2026, 3, 1, 10, tzinfo=UTC), "completed"),
        task_row("2", running_since, "running"),
    ])  # fmt: skip
    write(landing / "routing_decisions.csv", [
        {"id": "20000000-0000-4000-8000-000000000001",
         "task_execution_id": "00000000-0000-4000-8000-000000000001",
         "chosen_provider": "github_copilot", "decision_timestamp": "2026-03-01T09:59:59Z",
         "created_at": "2026-03-01T09:59:59Z"},
    ])  # fmt: skip
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    raw_tasks_key = dg.AssetKey(["raw", "task_executions"])
    # the settings as the code location reads them (WAREHOUSE_LANDING_DIR, the alert webhook)
    landing_resources = {"landing_dir": landing_directory(), "alerting": alerting_resource()}

    tick = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, resources=landing_resources)
    )
    (request,) = tick.run_requests
    assert sorted(Path(name).name for name in
                  request.run_config["ops"]["load_landing_files"]["config"]["files"]) == [
        "organizations.csv", "provider_pricing.csv", "routing_decisions.csv",
        "task_executions.csv", "teams.csv", "users.csv",
    ]  # fmt: skip
    run = defs.resolve_job_def("load_and_build").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )

    assert run.success
    graph = defs.resolve_asset_graph()
    materialized = {event.asset_key for event in run.get_asset_materialization_events()}
    # every asset but the database health snapshot and the monthly reports, which have their
    # own schedules
    assert materialized == set(graph.get_all_asset_keys()) - {HEALTH_ASSET_KEY, REPORTS_ASSET_KEY}
    evaluations = run.get_asset_check_evaluations()
    assert {evaluation.asset_check_key for evaluation in evaluations} == set(graph.asset_check_keys)
    assert [e.asset_check_key for e in evaluations if not e.passed] == []
    with postgres.connect(autocommit=True) as connection:
        assert connection.execute(
            "select task_id, status from analytics.task_executions order by task_id"
        ).fetchall() == [("1", "completed"), ("2", "running")]

    again = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=landing_resources)
    )
    assert again.run_requests == []
    assert again.skip_message == f"no new landing files in {landing}"

    # The hourly refresh, as of an hour and a minute after T2 started: T2 has timed out.
    # Meanwhile no price was loaded for 25 hours: its freshness check warns (24 hours).
    with postgres.connect(autocommit=True) as connection:
        connection.execute(
            "update raw.provider_pricing set _loaded_at = now() - interval '25 hours'"
        )
    as_of = (running_since + timedelta(minutes=61)).isoformat()
    hourly = defs.resolve_job_def("hourly_status_refresh").execute_in_process(
        run_config={"ops": {"dbt_warehouse": {"config": {"as_of": as_of}}}}, instance=instance
    )
    assert hourly.success
    stale = [e for e in hourly.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key, e.check_name, e.severity) for e in stale] == [
        (
            dg.AssetKey(["raw", "provider_pricing"]),
            "dbt_source_freshness",
            dg.AssetCheckSeverity.WARN,
        )
    ]
    assert stale[0].metadata["dbt_status"].value == "warn"
    refreshed = {event.asset_key for event in hourly.get_asset_materialization_events()}
    assert refreshed == HOURLY_ASSETS  # int_task_costs is a view: as_of is baked in
    with postgres.connect(autocommit=True) as connection:
        assert connection.execute(
            "select task_id, status from analytics.task_executions order by task_id"
        ).fetchall() == [("1", "completed"), ("2", "timed_out")]

    # The daily build as its schedule starts it: every dbt model, as of the tick.
    from orchestration.defs.project import dbt_executable

    tick = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    daily = defs.resolve_schedule_def("daily_build_schedule")
    (request,) = daily.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests
    run = defs.resolve_job_def("daily_build").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    assert run.success
    built = {event.asset_key for event in run.get_asset_materialization_events()}
    dbt_keys = {key for key in graph.get_all_asset_keys() if key.path[0] != "raw"}
    assert built == dbt_keys - {HEALTH_ASSET_KEY, REPORTS_ASSET_KEY}
    assert dg.AssetCheckKey(raw_tasks_key, "dbt_source_freshness") in {
        e.asset_check_key for e in run.get_asset_check_evaluations()
    }
    messages = [record.user_message for record in instance.all_logs(run.run_id)]
    # as of the tick, given as WAREHOUSE_AS_OF: no --vars, so dbt reuses the prepared parse
    assert f"dbt build as of {tick.isoformat()}" in messages
    assert [
        message
        for message in messages
        if message.startswith("Running dbt command: `") and " build " in message
    ] == [f"Running dbt command: `{dbt_executable()} build --select fqn:*`."]


def failure_day(landing: Path, day: date, tasks: int, failed: int, prefix: str = "") -> None:
    """``tasks`` one-minute tasks started on ``day``, the first ``failed`` of them failed."""
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    write(landing / f"task_executions__{prefix or 'day'}.csv", [
        task_row(f"{prefix}{number}", start + timedelta(minutes=number),
                 "failed" if number < failed else "completed")
        for number in range(tasks)
    ])  # fmt: skip


def evaluate_alert_sensor(defs, instance) -> str:
    """One tick of the alert sensor, its settings read from the environment as the code
    location reads them (the webhook fixture sets ALERT_WEBHOOK_URL)."""
    sensor = defs.resolve_sensor_def("data_quality_alert_sensor")
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": WarehouseResource(), "alerting": alerting_resource()},
    )
    return sensor.evaluate_tick(context).skip_message


def alerts(connection) -> list[tuple]:
    return connection.execute(
        "select rule, severity, subject, alert_date from monitoring.alerts order by alert_id"
    ).fetchall()


def test_twelve_percent_failures_raise_one_critical_alert_once(
    defs, connection, instance, tmp_path, webhook
):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    landing = tmp_path / "landing"
    reference_data(landing)
    failure_day(landing, yesterday, tasks=100, failed=12)
    load_paths(connection, [landing])
    build = run_dbt(["build"], check=False)
    assert not build.success  # failed_task_share_per_day_critical is an error-level test

    assert evaluate_alert_sensor(defs, instance) == "1 new alerts: failed_task_rate"
    assert alerts(connection) == [("failed_task_rate", "critical", "task_executions", yesterday)]
    assert webhook == [{
        "path": "/hook/s3cr3t", "alert_id": 1, "rule": "failed_task_rate",
        "severity": "critical", "subject": "task_executions", "date": yesterday.isoformat(),
        "message": f"12.00% of the 100 tasks started on {yesterday} failed (12 tasks)",
        "details": {"total_tasks": 100, "failed_tasks": 12, "failed_task_percentage": 12.0},
    }]  # fmt: skip

    assert evaluate_alert_sensor(defs, instance) == "no new alerts"  # once per subject and day
    assert len(alerts(connection)) == 1
    assert len(webhook) == 1


def test_three_percent_failures_raise_nothing_then_stale_pricing_and_a_timed_out_spike_do(
    defs, connection, instance, tmp_path, webhook
):
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    landing = tmp_path / "landing"
    reference_data(landing)
    failure_day(landing, yesterday, tasks=100, failed=3)
    load_paths(connection, [landing])
    run_dbt(["build"])

    assert evaluate_alert_sensor(defs, instance) == "no new alerts"
    assert alerts(connection) == []
    assert webhook == []

    connection.execute("update raw.provider_pricing set _loaded_at = now() - interval '25 hours'")
    assert evaluate_alert_sensor(defs, instance) == "1 new alerts: pricing_stale"
    assert alerts(connection) == [("pricing_stale", "warning", "raw.provider_pricing", today)]

    # 12 tasks started yesterday that never finished: 12 timed out against 0 the week before.
    spike = tmp_path / "spike"
    spike.mkdir()
    start = datetime(yesterday.year, yesterday.month, yesterday.day, 9, tzinfo=UTC)
    write(spike / "task_executions__stuck.csv",
          [task_row(f"9{number:03d}", start + timedelta(minutes=number), "running")
           for number in range(12)])  # fmt: skip
    load_paths(connection, [spike])
    run_dbt(["build"])
    assert evaluate_alert_sensor(defs, instance) == "1 new alerts: timed_out_spike"
    assert alerts(connection)[-1] == ("timed_out_spike", "warning", "task_executions", yesterday)
    assert [post["rule"] for post in webhook] == ["pricing_stale", "timed_out_spike"]


def test_a_failed_job_is_a_critical_alert(defs, connection, instance, tmp_path, webhook):
    from orchestration.defs.sensors import job_failure_alert_sensor

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "task_executions.parquet").write_bytes(b"this is not parquet")
    run = defs.resolve_job_def("load_and_build").execute_in_process(
        instance=instance,
        raise_on_error=False,
        resources={"landing_dir": LandingDirectory(directory=str(landing))},
    )
    assert not run.success

    dagster_run = instance.get_run_by_id(run.run_id)
    failure = next(
        record.dagster_event
        for record in instance.all_logs(run.run_id)
        if record.dagster_event
        and record.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="job_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=dagster_run,
        resources={"warehouse": WarehouseResource(), "alerting": alerting_resource()},
    ).for_run_failure()
    job_failure_alert_sensor(context)

    today = datetime.now(UTC).date()
    assert alerts(connection) == [("job_failed", "critical", "load_and_build", today)]
    ((posted_rule, posted_subject, posted_message),) = [
        (post["rule"], post["subject"], post["message"]) for post in webhook
    ]
    assert (posted_rule, posted_subject) == ("job_failed", "load_and_build")
    assert posted_message.startswith(f"job load_and_build failed (run {run.run_id}): ")


def test_alert_sensor_on_an_unbuilt_warehouse_says_so_and_still_checks_pricing(
    defs, connection, instance
):
    message = evaluate_alert_sensor(defs, instance)

    assert message == (
        "1 new alerts: pricing_stale; data quality skipped: "
        'relation "monitoring.data_quality_daily" does not exist; cost anomalies skipped: '
        'relation "analytics.cost_anomalies" does not exist; budgets skipped: '
        'relation "analytics.budget_status" does not exist; invoices skipped: '
        'relation "analytics.invoice_reconciliation" does not exist'
    )
    today = datetime.now(UTC).date()
    assert alerts(connection) == [("pricing_stale", "warning", "raw.provider_pricing", today)]


def test_dbt_run_folders_older_than_two_days_are_pruned(defs, tmp_path):
    from orchestration.defs.project import prune_dbt_run_folders

    def folder(name: str, age_hours: float, *, with_log: bool = True) -> Path:
        path = tmp_path / name
        path.mkdir()
        if with_log:
            (path / "dbt.log").write_text("log")
        stamp = time.time() - age_hours * 3600
        os.utime(path, (stamp, stamp))
        return path

    old = folder("dbt_warehouse-1a2b3c4-5d6e7f8", 49)
    recent = folder("dbt_warehouse-9a8b7c6-5d4e3f2", 47)
    shared = folder("compiled", 100)
    foreign = folder("notes", 100, with_log=False)

    assert prune_dbt_run_folders(tmp_path) == [old]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        path.name for path in (recent, shared, foreign)
    )


def test_negative_savings_are_logged_and_stored_but_not_posted(
    defs, connection, instance, tmp_path, webhook, capfd
):
    """Org A's baseline is github_copilot (0.00001/token + 0.001/request + 0.01/minute); two
    openai_codex tasks at 0.0001/token cost 0.1 each against a baseline of 0.021."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    landing = tmp_path / "landing"
    reference_data(landing)
    write(landing / "provider_pricing__codex.csv", [
        {"id": "10000000-0000-4000-8000-000000000002", "provider": "openai_codex",
         "pricing_tier": "", "cost_per_token": "0.0001", "cost_per_request": "",
         "cost_per_minute": "", "effective_from": "2026-01-01T00:00:00Z", "effective_until": ""},
    ])  # fmt: skip
    start = datetime(yesterday.year, yesterday.month, yesterday.day, 9, tzinfo=UTC)
    write(landing / "task_executions.csv",
          [{**task_row(str(number), start + timedelta(minutes=number), "completed"),
            "provider": "openai_codex"} for number in range(2)])  # fmt: skip
    load_paths(connection, [landing])
    run_dbt(["build"])
    assert connection.execute(
        "select count(*), sum(cost_usd), sum(savings_usd) from analytics.task_executions"
    ).fetchone() == (2, Decimal("0.200000"), Decimal("-0.158000"))

    capfd.readouterr()
    assert evaluate_alert_sensor(defs, instance) == "1 new alerts: negative_savings"
    logged = capfd.readouterr().err  # the sensor's log (the tick's log in the daemon)

    assert alerts(connection) == [("negative_savings", "info", "task_executions", yesterday)]
    assert f"INFO - alert negative_savings [info] 2 tasks started on {yesterday}" in logged
    assert webhook == []  # info: below ALERT_WEBHOOK_MIN_SEVERITY (warning)


def test_dagster_home_queues_one_dbt_build_at_a_time_without_telemetry(tmp_path, monkeypatch):
    from warehouse.dagster_home import prepare_dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("WAREHOUSE_DAGSTER_STORAGE", raising=False)
    home = prepare_dagster_home()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"  # one machine: default
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().tag_concurrency_limits == [
            {"key": "warehouse/dbt", "limit": 1}
        ]
        assert instance.telemetry_enabled is False


def test_landing_sensor_records_an_unrecognized_file_once_and_warns_once(
    defs, connection, instance, tmp_path, webhook, monkeypatch
):
    landing = tmp_path / "landing"
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(landing))
    landing.mkdir()
    (landing / ".part-teams.csv").write_text("id\n", encoding="utf-8")  # still being written
    (landing / "_manifest.json").write_text("{}", encoding="utf-8")  # the generator's
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    # the settings as the code location reads them (the webhook fixture sets the URL)
    settings_ = {"landing_dir": landing_directory(), "alerting": alerting_resource()}

    quiet = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=settings_))

    assert quiet.run_requests == []
    assert quiet.skip_message == f"no new landing files in {landing}"
    assert connection.execute(
        "select to_regclass('monitoring.unrecognized_landing_files'), "
        "to_regclass('monitoring.alerts')"
    ).fetchone() == (None, None)

    reference_data(landing)
    misnamed = landing / "organisation.csv"
    write(misnamed, [{"id": ORG_A, "name": "Org A"}])
    first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=settings_))
    second = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=settings_)
    )

    (request,) = first.run_requests
    assert sorted(Path(name).name for name in
                  request.run_config["ops"]["load_landing_files"]["config"]["files"]) == [
        "organizations.csv", "provider_pricing.csv", "teams.csv", "users.csv",
    ]  # fmt: skip
    assert second.run_requests == []
    assert second.skip_message == (
        f"no new landing files in {landing}; 1 unrecognized file, not loaded: organisation.csv "
        "(monitoring.unrecognized_landing_files)"
    )
    first_signature = f"{misnamed.stat().st_size}:{misnamed.stat().st_mtime_ns}"
    reason = "no table named 'organisation' (did you mean organizations?)"
    recorded = "select file_path, signature, reason from monitoring.unrecognized_landing_files"
    assert connection.execute(f"{recorded} order by first_seen_at").fetchall() == [
        (str(misnamed), first_signature, reason)
    ]
    (first_seen,) = connection.execute(
        "select (first_seen_at at time zone 'utc')::date from monitoring.unrecognized_landing_files"
    ).fetchone()
    expected_alert = ("unrecognized_landing_file", "warning", str(misnamed), first_seen)
    assert alerts(connection) == [expected_alert]
    assert [(post["rule"], post["severity"], post["subject"]) for post in webhook] == [
        expected_alert[:3]
    ]

    # The producer rewrites the file under the same wrong name: recorded again, no new alert.
    write(misnamed, [{"id": ORG_A, "name": "Org A, corrected"}])
    third = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=settings_)
    )

    assert third.run_requests == []
    second_signature = f"{misnamed.stat().st_size}:{misnamed.stat().st_mtime_ns}"
    assert second_signature != first_signature
    assert connection.execute(f"{recorded} order by first_seen_at, signature").fetchall() == [
        (str(misnamed), first_signature, reason),
        (str(misnamed), second_signature, reason),
    ]
    assert alerts(connection) == [expected_alert]
    assert len(webhook) == 1


def test_settings_are_resources_read_from_the_environment_with_the_defaults_of_today(
    monkeypatch, tmp_path
):
    """Each setting is a resource field read with dg.EnvVar (resolved when a run or tick
    starts, never stored in the definitions) when its variable is set, else the default."""
    for name in ("ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_MIN_SEVERITY", "WAREHOUSE_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    with dg.build_resources(
        {"alerting": alerting_resource(), "landing_dir": landing_directory()}
    ) as defaults:
        assert (
            defaults.alerting.webhook_url,
            defaults.alerting.webhook_min_severity,
            defaults.landing_dir.path,
        ) == ("", "warning", tmp_path / "home" / "landing")

    monkeypatch.setenv("ALERT_WEBHOOK_URL", "https://hooks.example.com/services/s3cr3t")
    monkeypatch.setenv("ALERT_WEBHOOK_MIN_SEVERITY", "critical")
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(tmp_path / "drop"))
    alerting = alerting_resource()
    assert "s3cr3t" not in repr(alerting)  # the definitions hold the variable's name only
    with dg.build_resources({"alerting": alerting, "landing_dir": landing_directory()}) as set_:
        assert (
            set_.alerting.webhook_url,
            set_.alerting.webhook_min_severity,
            set_.landing_dir.path,
        ) == ("https://hooks.example.com/services/s3cr3t", "critical", tmp_path / "drop")


def test_dagster_keeps_runs_and_events_in_the_warehouse_postgres_when_configured(
    defs, connection, tmp_path, monkeypatch
):
    """WAREHOUSE_DAGSTER_STORAGE=postgres: the instance stores runs, event logs and schedule
    state in schema dagster of the warehouse database (here the test database), with no
    password in dagster.yaml and no SQLite file."""
    from warehouse.dagster_home import prepare_dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("WAREHOUSE_DAGSTER_STORAGE", "postgres")
    monkeypatch.setenv("PGPASSWORD", "n0t-written-anywhere")  # the embedded server trusts
    home = prepare_dagster_home()
    assert "n0t-written-anywhere" not in (home / "dagster.yaml").read_text(encoding="utf-8")
    landing = tmp_path / "landing"
    reference_data(landing)
    raw_keys = list(defs.resolve_assets_def(dg.AssetKey(["raw", "organizations"])).keys)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run = defs.resolve_job_def("load_and_build").execute_in_process(
            run_config={"ops": {"load_landing_files": {"config": {"files": [str(landing)]}}}},
            instance=instance,
            asset_selection=raw_keys,
        )
    assert run.success

    assert connection.execute(
        "select pipeline_name, status from dagster.runs where run_id = %s", [run.run_id]
    ).fetchall() == [("load_and_build", "SUCCESS")]
    assert connection.execute(
        "select count(*) from dagster.event_logs where run_id = %s"
        " and dagster_event_type = 'ASSET_MATERIALIZATION'",
        [run.run_id],
    ).fetchone() == (11,)  # the 8 landing tables, rejected_rows, load_batches, redaction_counts
    assert connection.execute("select count(*) from raw.organizations").fetchone() == (1,)
    assert sorted(path.name for path in home.rglob("*.db")) == []


def test_retention_runs_daily_an_hour_after_the_build_and_purges_expired_rows(
    defs, connection, instance, tmp_path, monkeypatch
):
    """The retention job as its schedule starts it, for real: org A (30 days) loses T1 and T2,
    org B (retention_days null: the resource's default, 90 days) keeps everything
    (tests/test_retention.py has the dataset)."""
    from tests.test_retention import build_landing, counts, raw_task_ids

    monkeypatch.setenv("WAREHOUSE_ARCHIVE_URI", str(tmp_path / "archive"))
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    schedule = defs.resolve_schedule_def("retention_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "0 1 * * *",  # an hour after the daily build's "0 0 * * *"
        "UTC",
        "retention",
    )
    tick = datetime(2026, 3, 15, 1, tzinfo=UTC)
    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests
    assert request.run_config == {
        "ops": {"retention_run": {"config": {"as_of": "2026-03-15T01:00:00+00:00"}}}
    }

    job = defs.resolve_job_def("retention")
    assert job.tags["warehouse/dbt"] == "build"  # queued behind any running build
    run = job.execute_in_process(run_config=request.run_config, instance=instance)

    assert run.success
    assert raw_task_ids(connection) == {
        f"00000000-0000-4000-8000-00000000000{n}" for n in (3, 4, 5, 6, 7)
    }
    assert counts(connection) == (5, 2)  # T1's two versions and T2 gone, T1's two decisions
    assert connection.execute(
        "select status, as_of, tasks, task_rows_deleted, decision_rows_deleted "
        "from privacy.retention_runs"
    ).fetchall() == [("finished", tick, 2, 3, 2)]
    assert len(list((tmp_path / "archive").rglob("*.parquet"))) == 3


def test_dagster_refreshes_the_live_caches_every_minute(defs, connection, dbt, tmp_path):
    """The real job, in process: both caches refreshed and recorded as materializations of
    their dbt assets; scheduled every minute in UTC."""
    from tests.test_marts import build_landing as build_marts_landing

    build_marts_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build")
    result = defs.resolve_job_def("live_summaries").execute_in_process()
    assert result.success
    assert {event.asset_key for event in result.get_asset_materialization_events()} == {
        dg.AssetKey(["staging", "int_live_savings_today_cache"]),
        dg.AssetKey(["staging", "int_live_last_five_minutes_cache"]),
    }
    schedule = defs.resolve_schedule_def("live_summaries_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("* * * * *", "UTC")
