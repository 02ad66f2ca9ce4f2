"""generate -> load -> dbt build on a small synthetic dataset, and the numbers reconcile."""

from __future__ import annotations

from datetime import date

from orchestration.synthetic.generator import GeneratorConfig, generate

from orchestration.ingest.loader import load_paths

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
