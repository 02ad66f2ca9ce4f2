"""Jobs: load-and-build (landing sensor), the daily build, the hourly status refresh."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt_assets import (
    DBT_ASSETS_NAME,
    MANIFEST,
    dbt_warehouse,
    raw_source_freshness,
)
from orchestration.defs.ingest_assets import load_landing_files
from orchestration.defs.translator import WarehouseTranslator

# One dbt build at a time: the run queue (dagster.yaml) limits runs carrying this tag to 1.
BUILD_TAGS = {"warehouse/dbt": "build"}
AS_OF_MACRO = "macro.generic_corp_warehouse.as_of"


def models_using_as_of() -> list[dg.AssetKey]:
    """The dbt models that call the as_of() macro themselves."""
    translator = WarehouseTranslator()
    return [
        translator.get_asset_key(node)
        for node in MANIFEST["nodes"].values()
        if node["resource_type"] == "model" and AS_OF_MACRO in node["depends_on"]["macros"]
    ]


load_and_build_job = dg.define_asset_job(
    "load_and_build",
    selection=dg.AssetSelection.assets(load_landing_files).downstream(),
    description="Load new landing files into raw, then dbt build everything downstream.",
    tags=BUILD_TAGS,
)

daily_build_job = dg.define_asset_job(
    "daily_build",
    selection=dg.AssetSelection.assets(dbt_warehouse)
    | dg.AssetSelection.checks_for_assets(load_landing_files),
    description="The daily incremental dbt build (as_of = the tick), its tests, and the raw "
    "tables' source tests and freshness.",
    tags=BUILD_TAGS,
)

# The hourly refresh rebuilds the models whose SQL uses the build's as_of, and everything
# downstream of them: a view bakes in the as_of of its last build, and rebuilding a view in
# PostgreSQL drops the views that read it, so those are rebuilt too.
hourly_status_job = dg.define_asset_job(
    "hourly_status_refresh",
    selection=dg.AssetSelection.assets(*models_using_as_of()).downstream()
    | dg.AssetSelection.checks(raw_source_freshness),
    description="Light hourly run: task statuses (timed_out) as of the tick and the rollups and "
    "monitoring models downstream of them, plus raw freshness.",
    tags=BUILD_TAGS,
)


def build_run_config(as_of: str) -> dict:
    """Run config giving the dbt build its as_of."""
    return {"ops": {DBT_ASSETS_NAME: {"config": {"as_of": as_of}}}}
