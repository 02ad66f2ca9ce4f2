"""generate -> load -> dbt build on a small synthetic dataset, and the numbers reconcile; the
demo's summary shows what the dashboard models hold."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from tests.test_marts import AS_OF as MARTS_AS_OF
from tests.test_marts import build_landing
from warehouse.demo import print_summary
from warehouse.ingest.loader import load_paths
from warehouse.synthetic.generator import GeneratorConfig, generate

END = date(2026, 3, 1)


def test_generated_data_loads_cleanly_and_builds(connection, dbt, tmp_path):
    landing = tmp_path / "landing"
    summary = generate(landing, GeneratorConfig(orgs=2, days=8, seed=11, end_date=END))

    results = load_paths(connection, [landing])
    build = dbt("build")

    assert {result.status for result in results} == {"loaded"}
    assert sum(result.rows_rejected for result in results) == 0
    assert build.success
    raw_tasks, staged_tasks, raw_versions = connection.execute(
        """
        select
            (select count(distinct id) from raw.task_executions),
            (select count(*) from staging.stg_platform__task_executions),
            (select count(*) from raw.task_executions)
        """
    ).fetchone()
    assert raw_tasks == staged_tasks == summary.distinct_tasks
    assert raw_versions == sum(
        count for name, count in summary.file_rows.items() if name.startswith("task_executions")
    )
    statuses = {
        row[0]
        for row in connection.execute(
            "select distinct status from staging.stg_platform__task_executions"
        )
    }
    assert statuses <= {"pending", "running", "completed", "failed"}
    assert {"completed", "failed"} <= statuses
    flagged = connection.execute(
        """
        select count(*) from staging.stg_platform__task_executions
        where has_unknown_status or has_negative_reported_cost or has_end_before_start
            or is_completed_without_end
        """
    ).fetchone()[0]
    assert flagged == 0  # clean mode breaks no hard rule


def test_chaos_data_is_caught_row_by_row_and_nothing_is_lost(connection, dbt, tmp_path):
    landing = tmp_path / "landing"
    summary = generate(landing, GeneratorConfig(orgs=3, days=6, seed=5, end_date=END, chaos=True))
    expected = summary.chaos

    results = load_paths(connection, [landing])
    build = dbt("build")

    assert build.success  # chaos only warns: quarantine keeps bad tasks out downstream
    warned = {
        item.node.name: item.failures for item in build.result.results if str(item.status) == "warn"
    }
    assert warned["providers_used_have_pricing"] == 1  # anthropic_claude: no price at all
    assert warned["no_invalid_status_transitions"] == expected["invalid_transitions"]
    status_test = next(
        name
        for name in warned
        if name.startswith("accepted_values_stg_platform__task_executions_status")
    )
    assert warned[status_test] == 1  # the chaos row with status 'cancelled'
    read = sum(result.rows_read for result in results)
    loaded = sum(result.rows_loaded for result in results)
    rejected = dict(
        connection.execute(
            """
            select
                case
                    when reason like 'not a UUID%%' then 'bad_uuid'
                    when reason like 'not an ISO-8601 timestamp%%' then 'bad_timestamp'
                    when reason like 'not a number%%' then 'bad_number'
                    when reason like 'not an integer%%' then 'bad_integer'
                    when reason = 'missing required field' then 'missing_required_field'
                    when reason like 'invalid JSON%%' then 'bad_json'
                    else reason
                end,
                count(*)
            from raw.rejected_rows group by 1
            """
        ).fetchall()
    )
    assert rejected == {
        kind.removeprefix("rejected_"): count
        for kind, count in expected.items()
        if kind.startswith("rejected_")
    }
    assert read == loaded + sum(rejected.values())
    flags = connection.execute(
        """
        select
            count(*) filter (where task.has_negative_reported_cost),
            count(*) filter (where task.has_end_before_start),
            count(*) filter (where task.is_completed_without_end),
            count(*) filter (where org.organization_id is null),
            count(*) filter (where usr.user_id is null),
            count(*) filter (where task.has_unknown_status),
            count(*) filter (where task.provider = 'anthropic_claude')
        from staging.stg_platform__task_executions as task
        left join staging.stg_platform__organizations as org using (organization_id)
        left join staging.stg_platform__users as usr using (user_id)
        """
    ).fetchone()
    assert flags == (
        expected["quarantine_negative_cost"],
        expected["quarantine_end_before_start"],
        expected["quarantine_completed_without_end"],
        expected["quarantine_unknown_organization"],
        expected["quarantine_unknown_user"],
        expected["quarantine_unknown_status"],
        expected["unpriced_provider_tasks"],
    )
    staged, raw_tasks = connection.execute(
        """
        select (select count(*) from staging.stg_platform__task_executions),
               (select count(distinct id) from raw.task_executions)
        """
    ).fetchone()
    assert staged == raw_tasks == summary.distinct_tasks
    quarantined = dict(
        connection.execute(
            "select reason, count(*) from monitoring.quarantined_task_executions group by 1"
        ).fetchall()
    )
    assert quarantined == {
        kind.removeprefix("quarantine_"): count
        for kind, count in expected.items()
        if kind.startswith("quarantine_")
    }
    in_marts = connection.execute("select count(*) from analytics.task_executions").fetchone()[0]
    assert in_marts + sum(quarantined.values()) == raw_tasks  # nothing is lost
    unreconciled = connection.execute(
        """
        select count(*) from monitoring.reconciliation_daily
        where raw_vs_mart_task_difference != 0 or mart_vs_rollup_task_difference != 0
            or mart_vs_rollup_cost_difference != 0
        """
    ).fetchone()[0]
    assert unreconciled == 0
    transitions = connection.execute(
        "select from_status, to_status, count(*) from monitoring.invalid_status_transitions "
        "group by 1, 2"
    ).fetchall()
    assert transitions == [("completed", "running", expected["invalid_transitions"])]
    quality = connection.execute(
        """
        select sum(rows_rejected), sum(quarantined_tasks), sum(invalid_transitions),
            sum(late_arriving_versions), sum(tasks_without_price), count(*) filter (
                where quarantine_status = 'warning')
        from monitoring.data_quality_daily
        """
    ).fetchone()
    assert quality[:5] == (
        sum(rejected.values()),
        sum(quarantined.values()),
        expected["invalid_transitions"],
        2 * expected["out_of_order_versions"],  # pending and running after the completion
        expected["unpriced_provider_tasks"],
    )
    assert quality[5] >= 1


def test_demo_summary_prints_the_dashboard_rows(connection, dbt, tmp_path, capsys):
    """The hand-built dataset of test_marts (its docstring works out every number): March 2026
    as analytics.organization_cost_dashboard and provider_comparison_monthly hold it."""
    build_landing(tmp_path / "landing")
    load_paths(connection, [tmp_path / "landing"])
    dbt("build", as_of=MARTS_AS_OF)
    capsys.readouterr()

    print_summary(connection, date(2026, 3, 1))

    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    cells = [re.split(r" {2,}", line) for line in lines if line and set(line) != {"-", " "}]
    assert cells == [
        ["in the warehouse", "count"],
        ["organizations", "2"],
        ["users", "3"],
        ["tasks in the marts", "5"],  # T1-T5
        ["tasks quarantined", "2"],  # T6 (status cancelled), T7 (negative cost)
        ["raw task versions", "7"],
        ["routing decisions", "1"],
        ["pricing rows", "4"],
        ["rejected rows", "0"],
        ["tasks by status: completed 3, failed 1, timed_out 1"],
        ["task start dates: 2026-03-01 to 2026-03-02 (UTC)"],
        ["March 2026 by organization (analytics.organization_cost_dashboard; completed tasks' "
         "cost):"],
        ["organization", "tasks", "completed", "cost", "baseline", "savings", "savings %",
         "baseline is"],
        # A: T1 + T2 completed, 0.643 and 0.642 in days' cents 0.64; -0.001 / 0.642 = -0.16 %
        ["Org A", "4", "2", "$0.64", "$0.64", "$0.00", "-0.16%", "github_copilot"],
        # B: T5, 0.005 -> 0.01; cost = baseline (its default provider)
        ["Org B", "1", "1", "$0.01", "$0.01", "$0.00", "0.00%", "openai_codex"],
        ["March 2026 by task type and provider (analytics.provider_comparison_monthly):"],
        ["task type", "provider", "tasks", "success %", "avg cost", "median duration",
         "avg quality"],
        ["bug_fix", "openai_codex", "1", "100.00%", "$0.0220", "60 s", "80.00"],
        ["feature", "openai_codex", "1", "100.00%", "$0.0050", "30 s", "-"],
        ["feature", "github_copilot", "1", "100.00%", "$0.6210", "3,600 s", "-"],
        # T3 failed: no cost, no duration; T4 timed out: not counted
        ["test", "openai_codex", "1", "0.00%", "-", "-", "-"],
        ["March 2026 return on the platform fee (analytics.roi_summary):"],
        ["organization", "developers", "platform fee", "savings", "net benefit", "ROI %",
         "paid back in"],
        # A: tier standard, 19.00 x 2 users (A2 joined on March 2nd); savings 0.00 (above)
        ["Org A", "2", "$38.00", "$0.00", "-$38.00", "-100.00%", "not yet"],
        # B: tier enterprise, 59.00 x 1
        ["Org B", "1", "$59.00", "$0.00", "-$59.00", "-100.00%", "not yet"],
    ]  # fmt: skip


def test_demo_run_keeps_dbt_output_in_the_log_and_shows_each_finished_node(tmp_path):
    from orchestration.demo_run import DbtProgressTee

    dbt_output = [
        "\x1b[0m19:52:06  Running with dbt=1.11.16",
        "1 of 1 OK hook: generic_corp_warehouse.on-run-start.0 ..... [OK in 0.30s]",
        "1 of 2 START sql view model staging.stg_platform__teams ..... [RUN]",
        "2 of 2 START test unique_teams_id ..... [RUN]",
        "1 of 2 OK created sql view model staging.stg_platform__teams ..... [CREATE VIEW in 0.25s]",
        "2 of 2 WARN 3 unique_teams_id ..... [WARN 3 in 0.05s]",
        "1 of 1 PASS freshness of platform.teams ..... [PASS in 0.06s]",
    ]
    log, screen = tmp_path / "run.log", tmp_path / "screen.txt"
    with (
        open(log, "w", encoding="utf-8") as log_file,
        open(screen, "w", encoding="utf-8") as screen_file,
    ):
        tee = DbtProgressTee(log_file, screen_file)
        text = "\n".join(dbt_output) + "\n"
        tee.write(text[:50])  # lines arrive in pieces
        tee.write(text[50:])
        tee.close()

    assert log.read_text(encoding="utf-8").splitlines() == dbt_output
    assert screen.read_text(encoding="utf-8").splitlines() == [
        "      1 of 2 OK created sql view model staging.stg_platform__teams [CREATE VIEW in 0.25s]",
        "      2 of 2 WARN 3 unique_teams_id [WARN 3 in 0.05s]",
        "      1 of 1 PASS freshness of platform.teams [PASS in 0.06s]",
    ]


def test_generated_budgets_invoices_and_cost_spike_show_in_the_insights(connection, dbt, tmp_path):
    """One organization from Monday 2026-01-19 to Wednesday 2026-03-04: February is the one
    whole month, so each provider invoices it (on March 3rd); the spike is planted on Tuesday
    March 3rd, inside the anomalies' judged week before as_of. The invoices bill at the same
    contract prices as the warehouse: exact matches, but for google_code_assist, which also
    bills failed tasks; the reconciliation finds that cause for the whole difference."""
    landing = tmp_path / "landing"
    end = date(2026, 3, 4)
    generate(landing, GeneratorConfig(orgs=1, days=45, seed=11, end_date=end))
    load_paths(connection, [landing])
    dbt("build", as_of="2026-03-05T00:00:00+00:00")

    (organization,) = connection.execute("select id from analytics.organizations").fetchone()
    assert connection.execute(
        "select organization_id, metric_date from analytics.cost_anomalies where is_anomaly"
    ).fetchall() == [(organization, date(2026, 3, 3))]
    invoices = connection.execute(
        "select invoice_id, status, difference_usd, not_completed_cost_usd "
        "from analytics.invoice_reconciliation order by invoice_id"
    ).fetchall()
    assert [row[:3] for row in invoices if row[1] == "matched"] == [
        ("GHC-202602", "matched", 0),
        ("OAI-202602", "matched", 0),
    ]
    ((invoice_id, status, difference, failed_cost),) = [
        row for row in invoices if row[1] != "matched"
    ]
    assert (invoice_id, status) == ("GCA-202602", "over_invoiced")
    (failed_only,) = connection.execute(
        "select sum(cost_usd) from analytics.task_executions where status = 'failed' "
        "and provider = 'google_code_assist' and start_time >= '2026-02-01' "
        "and start_time < '2026-03-01'"
    ).fetchone()
    assert abs(difference - failed_only) <= Decimal("0.01")  # invoice and marts round apart
    assert failed_cost >= failed_only  # the cause counts timed-out tasks with a cost too
    assert connection.execute(
        "select budget_scope, month_start, month_status, forecast_spend_usd is not null "
        "from analytics.budget_status order by month_start, budget_scope"
    ).fetchall() == [
        (scope, month, status, True)
        for month, status in (
            (date(2026, 1, 1), "past"),
            (date(2026, 2, 1), "past"),
            (date(2026, 3, 1), "current"),
        )
        for scope in ("organization", "team")
    ]
