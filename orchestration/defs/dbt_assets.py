"""The dbt project as Dagster assets (tests as asset checks) and dbt source freshness as checks
on the raw tables."""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from pydantic import Field, field_validator

from orchestration.defs.project import (
    DBT_PROJECT,
    dbt_target_dir,
    load_manifest,
    prune_dbt_run_folders,
)
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import WarehouseTranslator, raw_asset_key
from warehouse.dbt import environment

DBT_ASSETS_NAME = "dbt_warehouse"
FRESHNESS_CHECK = "dbt_source_freshness"

MANIFEST = load_manifest()
# Sources with a freshness rule (raw.rejected_rows has none: empty or old is good news there).
SOURCE_TABLES = sorted(
    source["name"]
    for source in MANIFEST["sources"].values()
    if any(
        (source.get("freshness") or {}).get(level, {}).get("count")
        for level in ("warn_after", "error_after")
    )
)


class DbtBuildConfig(dg.Config):
    """Run configuration of a dbt build."""

    as_of: str = Field(
        default="",
        description="The build's point in time (ISO-8601, given to dbt as WAREHOUSE_AS_OF); "
        "empty: now. Schedules set it to the tick's time, so a rerun of a tick is reproducible.",
    )

    full_test_sweep: bool = Field(
        default=False,
        description="Test every row of the incremental marts (dbt var full_test_sweep), not "
        "only the rows this build made; the daily schedule sets it on Sundays.",
    )

    @field_validator("as_of")
    @classmethod
    def _iso_timestamp(cls, value: str) -> str:
        if value:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError(f"as_of {value!r} needs a UTC offset, e.g. {value}+00:00")
        return value


def dbt_vars_args(config: DbtBuildConfig) -> list[str]:
    """The dbt --vars of a build: whether it tests every row. Its as_of goes to dbt as the
    environment variable WAREHOUSE_AS_OF (macros/as_of.sql), which dbt reads only when the
    build runs: with no --vars, the build reuses the parse of the prepared manifest (dagster-dbt
    copies its partial_parse.msgpack) instead of parsing the project again."""
    return ["--vars", json.dumps({"full_test_sweep": True})] if config.full_test_sweep else []


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=WarehouseTranslator(),
    name=DBT_ASSETS_NAME,
)
def dbt_warehouse(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """``dbt build`` of the selected models and their tests (incremental; as_of from config)."""
    warehouse.ensure_started()
    prune_dbt_run_folders(dbt_target_dir())
    context.log.info(f"dbt build as of {config.as_of or 'the start of the run'}")
    with warehouse.libpq_environment(), environment({"WAREHOUSE_AS_OF": config.as_of}):
        yield from dbt.cli(["build", *dbt_vars_args(config)], context=context).stream()


def _freshness_result(result: dict[str, Any]) -> dg.AssetCheckResult:
    table = result["unique_id"].rsplit(".", 1)[-1]
    status = result["status"]  # pass | warn | error | runtime error
    metadata: dict[str, Any] = {"dbt_status": status}
    if "max_loaded_at" in result:
        metadata["max_loaded_at"] = result["max_loaded_at"]
        metadata["hours_since_load"] = round(result["max_loaded_at_time_ago_in_s"] / 3600, 2)
        criteria = result.get("criteria", {})
        for level in ("warn_after", "error_after"):
            if criteria.get(level, {}).get("count"):
                metadata[level] = f"{criteria[level]['count']} {criteria[level]['period']}"
    else:
        metadata["error"] = result.get("error") or result.get("message") or "unknown"
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(table),
        check_name=FRESHNESS_CHECK,
        passed=status == "pass",
        severity=dg.AssetCheckSeverity.WARN if status == "warn" else dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=raw_asset_key(table),
            description="dbt source freshness on _loaded_at (warn/error windows in "
            "_platform__sources.yml)",
        )
        for table in SOURCE_TABLES
    ],
    can_subset=True,
    name="raw_source_freshness",
)
def raw_source_freshness(
    context: dg.AssetCheckExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """``dbt source freshness`` over the raw tables, one check result per table."""
    warehouse.ensure_started()
    prune_dbt_run_folders(dbt_target_dir())
    with warehouse.libpq_environment():
        invocation = dbt.cli(
            ["source", "freshness"], raise_on_error=False, manifest=DBT_PROJECT.manifest_path
        )
        invocation.wait()
    results = invocation.get_artifact("sources.json")["results"]
    selected = context.selected_asset_check_keys
    for result in results:
        check = _freshness_result(result)
        if dg.AssetCheckKey(check.asset_key, FRESHNESS_CHECK) in selected:
            yield check
