"""Landing files into the raw tables: the upstream assets of the dbt sources."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.defs.resources import LandingDirectory, WarehouseResource
from orchestration.defs.translator import raw_asset_key
from warehouse.ingest.contract import TABLES
from warehouse.ingest.loader import BatchResult, discover, load_paths

LOAD_ASSETS_NAME = "load_landing_files"
BOOKKEEPING_TABLES = {
    "rejected_rows": "Rows the loader could not parse, with file, line, field and reason.",
    "load_batches": "One row per landing file loaded: rows read, loaded, rejected, timings.",
    "redaction_counts": "Findings the sanitizer replaced in free text, per batch, column, kind.",
}
RAW_TABLES = [*TABLES, *BOOKKEEPING_TABLES]


class LandingConfig(dg.Config):
    """Which landing files to load."""

    files: list[str] = Field(
        default_factory=list,
        description="Landing files to load; empty: every file under WAREHOUSE_LANDING_DIR "
        "(files loaded before are recognized by checksum and skipped).",
    )


def _description(table: str) -> str:
    return BOOKKEEPING_TABLES.get(table) or f"Landing table raw.{table} (append-only versions)."


@dg.multi_asset(
    name=LOAD_ASSETS_NAME,
    specs=[
        dg.AssetSpec(
            raw_asset_key(table),
            description=_description(table),
            group_name="raw",
            kinds={"postgres"},
        )
        for table in RAW_TABLES
    ],
)
def load_landing_files(
    context: dg.AssetExecutionContext,
    config: LandingConfig,
    warehouse: WarehouseResource,
    landing_dir: LandingDirectory,
) -> Iterator[dg.MaterializeResult]:
    """Load new landing files (CSV, JSONL, Parquet) with the loader: COPY, one transaction per
    file, bad rows to raw.rejected_rows. A file that cannot be loaded fails the run after the
    others have loaded."""
    landing = landing_dir.path
    paths = [Path(name) for name in config.files] or ([landing] if landing.is_dir() else [])
    if not paths:
        context.log.info(f"no landing directory at {landing}: nothing to load")
    elif not config.files:
        for item in discover(paths).unrecognized:
            context.log.warning(f"{item.path}: not a landing file, not loaded ({item.reason})")
    warehouse.ensure_started()
    with warehouse.connect() as connection:
        results = load_paths(connection, paths) if paths else []
    for result in results:
        context.log.info(
            f"{result.file}: {result.status}, {result.rows_loaded} rows loaded, "
            f"{result.rows_rejected} rejected" + (f" ({result.message})" if result.message else "")
        )
    failed = [result for result in results if result.status == "failed"]
    if failed:
        raise dg.Failure(
            description="; ".join(result.message for result in failed),
            metadata={"failed_files": [result.file for result in failed]},
        )
    for table in RAW_TABLES:
        yield dg.MaterializeResult(asset_key=raw_asset_key(table), metadata=_counts(table, results))


def _counts(table: str, results: list[BatchResult]) -> dict[str, int]:
    loaded = [result for result in results if result.status == "loaded"]
    if table == "rejected_rows":
        return {"rows_loaded": sum(result.rows_rejected for result in loaded)}
    if table == "load_batches":
        return {"rows_loaded": len(loaded)}
    if table == "redaction_counts":
        return {"redactions": sum(result.redactions for result in loaded)}
    mine = [result for result in loaded if result.table == table]
    return {
        "files_loaded": len(mine),
        "rows_loaded": sum(result.rows_loaded for result in mine),
        "rows_rejected": sum(result.rows_rejected for result in mine),
    }
