"""Schedules (UTC): the daily build at midnight, the hourly status refresh, and retention an
hour after the daily build."""

from __future__ import annotations

from datetime import UTC

import dagster as dg

from orchestration.defs.jobs import build_run_config, daily_build_job, hourly_status_job
from orchestration.defs.retention import RETENTION_OP_NAME, retention_job

DAILY_CRON = "0 0 * * *"
# Half past, so it never races the midnight build; a task without an end time for an hour
# shows as timed_out within the hour.
HOURLY_CRON = "30 * * * *"
# An hour after the daily build (the run queue holds it while a build still runs): rows are
# purged after the build took in their last versions.
RETENTION_CRON = "0 1 * * *"


# The build of this weekday's tick tests every row of the incremental marts (the other builds
# test the rows they made): damage to old rows is found within a week. Monday is 0.
FULL_TEST_SWEEP_WEEKDAY = 6


def _tick_schedule(
    name: str,
    job: dg.UnresolvedAssetJobDefinition,
    cron: str,
    description: str,
    *,
    weekly_sweep: bool = False,
) -> dg.ScheduleDefinition:
    def tick_request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time.astimezone(UTC)
        as_of = tick.isoformat()
        sweep = weekly_sweep and tick.weekday() == FULL_TEST_SWEEP_WEEKDAY
        tags = {
            "warehouse/as_of": as_of,
            **({"warehouse/full_test_sweep": "true"} if sweep else {}),
        }
        return dg.RunRequest(
            run_key=as_of, run_config=build_run_config(as_of, full_test_sweep=sweep), tags=tags
        )

    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        execution_fn=tick_request,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )


daily_build_schedule = _tick_schedule(
    "daily_build_schedule",
    daily_build_job,
    DAILY_CRON,
    "Daily incremental build with as_of = the tick's time (reproducible reruns); on Sundays its "
    "tests read every row of the incremental marts, other days the rows the build made.",
    weekly_sweep=True,
)
hourly_status_schedule = _tick_schedule(
    "hourly_status_schedule",
    hourly_status_job,
    HOURLY_CRON,
    "Hourly refresh of task statuses (timed_out) and the rollups downstream.",
)


def _retention_request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = context.scheduled_execution_time.astimezone(UTC).isoformat()
    return dg.RunRequest(
        run_key=as_of,
        run_config={"ops": {RETENTION_OP_NAME: {"config": {"as_of": as_of}}}},
        tags={"warehouse/as_of": as_of},
    )


retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule=RETENTION_CRON,
    execution_timezone="UTC",
    execution_fn=_retention_request,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retention an hour after the daily build, as of the tick: archive, "
    "verify, then delete expired raw rows (docs/privacy.md).",
)
