"""Jobs: load-and-build (landing sensor), the daily build, the hourly status refresh."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from orchestration.defs.dbt_assets import DBT_ASSETS_NAME, dbt_warehouse, raw_source_freshness
from orchestration.defs.ingest_assets import load_landing_files

# One dbt build at a time: the run queue (dagster.yaml) limits runs carrying this tag to 1.
BUILD_TAGS = {"warehouse/dbt": "build"}
# dbt models tagged `hourly` (dbt_project.yml) depend on the build's as_of; `+`: and everything
# downstream of them, with their tests. `dbt build --select tag:hourly+` does the same by hand.
HOURLY_DBT_SELECT = "tag:hourly+"


# The catalogues (dbt seeds) are no one's downstream, but the marts' tests read them.
SEEDS_DBT_SELECT = "resource_type:seed"

# The days retention purged (raw.retention_purged_days, written by retention runs): read by the
# rollups' incremental builds, downstream of no landing table, so selected by name.
PURGED_DAYS_DBT_SELECT = "stg_platform__retention_purged_days"

# MetricFlow's time spine (docs/semantic_layer.md): read at query time by `mf`, downstream of
# nothing, so selected by name.
TIME_SPINE_DBT_SELECT = "metricflow_time_spine"

load_and_build_job = dg.define_asset_job(
    "load_and_build",
    selection=(
        dg.AssetSelection.assets(load_landing_files).downstream()
        - dg.AssetSelection.groups("reports")  # monthly, on their own schedule
    )
    | build_dbt_asset_selection([dbt_warehouse], dbt_select=SEEDS_DBT_SELECT)
    | build_dbt_asset_selection([dbt_warehouse], dbt_select=PURGED_DAYS_DBT_SELECT)
    | build_dbt_asset_selection([dbt_warehouse], dbt_select=TIME_SPINE_DBT_SELECT),
    description="Load new landing files into raw, then dbt build everything downstream (and "
    "the catalogue seeds the marts' tests read, the view of the days retention purged, which "
    "the rollups read, and the semantic layer's time spine).",
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

# The hourly refresh rebuilds the models tagged hourly, and everything downstream of them: a
# view bakes in the as_of of its last build, and rebuilding a view in PostgreSQL drops the views
# that read it, so those are rebuilt too.
hourly_status_job = dg.define_asset_job(
    "hourly_status_refresh",
    selection=build_dbt_asset_selection([dbt_warehouse], dbt_select=HOURLY_DBT_SELECT)
    | dg.AssetSelection.checks(raw_source_freshness),
    description="Light hourly run: task statuses (timed_out) as of the tick and the rollups and "
    "monitoring models downstream of them, plus raw freshness.",
    tags=BUILD_TAGS,
)


def build_run_config(as_of: str, *, full_test_sweep: bool = False) -> dict:
    """Run config giving the dbt build its as_of (and the weekly sweep of every row's tests)."""
    config: dict[str, object] = {"as_of": as_of}
    if full_test_sweep:
        config["full_test_sweep"] = True
    return {"ops": {DBT_ASSETS_NAME: {"config": config}}}
