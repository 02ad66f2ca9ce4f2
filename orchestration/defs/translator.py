"""How dbt resources appear in Dagster: keys by schema, groups by layer, freshness on marts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

RAW_SCHEMA = "raw"
# dbt sources that dbt runs write for themselves (docs/concurrency.md: the batch horizon taken
# on-run-start) or retention runs write (the days they purged, docs/privacy.md), and the live
# store's ledger (docs/live.md), not data the load brings: no asset, no lineage edge.
DBT_BOOKKEEPING_SOURCES = {"batch_horizons", "live_store_batches", "retention_purged_days"}
# The catalogues the warehouse owns (dbt seeds: providers, task types, pricing tiers).
SEEDS_GROUP = "seeds"
# Marts are built by the daily build (and refreshed hourly); older than a day warns, and an
# hour's grace past that for the build itself fails.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=25), warn_window=timedelta(hours=24)
)


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_SCHEMA, table])


class WarehouseTranslator(DagsterDbtTranslator):
    """Sources are the raw tables the loader writes (``raw/<table>``); models are
    ``<schema>/<name>`` in a group per layer (staging, intermediate, marts, monitoring)."""

    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return raw_asset_key(dbt_resource_props["name"])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return RAW_SCHEMA
        if dbt_resource_props["resource_type"] == "seed":
            return SEEDS_GROUP
        return layer(dbt_resource_props)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        materialized = props.get("config", {}).get("materialized")
        if layer(props) == "marts" and materialized in ("table", "incremental"):
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        bookkeeping = {raw_asset_key(name) for name in DBT_BOOKKEEPING_SOURCES}
        if any(dep.asset_key in bookkeeping for dep in spec.deps):
            spec = spec.replace_attributes(
                deps=[dep for dep in spec.deps if dep.asset_key not in bookkeeping]
            )
        return spec


def layer(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """The model's folder under models/ (fqn: project, folder, ..., name)."""
    fqn = dbt_resource_props.get("fqn", [])
    return fqn[1] if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2 else None
