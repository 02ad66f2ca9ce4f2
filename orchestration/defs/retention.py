"""Retention as a Dagster job: `warehouse retention run` (docs/privacy.md), daily after the
build. An op job, not an asset: it materializes nothing new, it deletes expired rows (and the
rollups it must never change are not its to touch)."""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from orchestration.defs.jobs import BUILD_TAGS
from orchestration.defs.resources import RetentionResource, WarehouseResource
from warehouse.ingest.migrations import apply_migrations
from warehouse.privacy.retention import run_retention

RETENTION_OP_NAME = "retention_run"


class RetentionConfig(dg.Config):
    as_of: str = Field(
        default="",
        description="ISO-8601 instant the cut-offs are computed from; empty: now (the "
        "schedule passes its tick, so a rerun of a tick purges the same tasks).",
    )


@dg.op(name=RETENTION_OP_NAME)
def retention_run(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    warehouse: WarehouseResource,
    retention: RetentionResource,
) -> dg.Output[None]:
    """Archive the raw rows of expired tasks to Parquet, verify the archive, then delete them
    and the row-level rows built from them; delete expired archives."""
    as_of = datetime.fromisoformat(config.as_of) if config.as_of else datetime.now(UTC)
    warehouse.ensure_started()
    with warehouse.connect() as connection:
        apply_migrations(connection)
        result = run_retention(
            connection,
            as_of=as_of,
            archive=retention.archive,
            default_days=retention.retention_days,
            archive_days=retention.archive_days,
            echo=context.log.info,
        )
    return dg.Output(
        None,
        metadata={
            "run_id": result.run_id or "",
            "tasks": sum(group.tasks for group in result.groups),
            "task_rows_deleted": result.task_rows_deleted,
            "decision_rows_deleted": result.decision_rows_deleted,
            "row_level_rows_deleted": result.row_level_rows_deleted,
            "archive_files": len(result.files),
            "expired_archives": len(result.expired_archives),
        },
    )


# Tagged like the builds: the run queue runs it only while no dbt build runs (dagster.yaml), as
# it deletes rows of the staging tables and marts a build writes.
@dg.job(name="retention", tags=BUILD_TAGS)
def retention_job() -> None:
    """Daily retention: archive, verify, delete expired rows (docs/privacy.md)."""
    retention_run()
