"""The project's structure rules, checked over dbt's manifest (what dbt Labs' project
evaluator checks, which cannot be installed here): documentation, primary-key tests, source
freshness, layering and naming."""

from __future__ import annotations

import json
import os
import re

import pytest

from warehouse.dbt import run_dbt

# Sources without freshness, each with the reason it has none.
NO_FRESHNESS = {
    "source.generic_corp_warehouse.platform.budgets": (
        "set once a month or less, and optional: an old or empty table is normal"
    ),
    "source.generic_corp_warehouse.platform.provider_invoices": (
        "monthly at most, and optional: an old or empty table is normal"
    ),
    "source.generic_corp_warehouse.platform.rejected_rows": (
        "an empty or old table of rejected rows is good news; load_batches covers the loader"
    ),
    "source.generic_corp_warehouse.platform.batch_horizons": (
        "written by dbt runs themselves (on-run-start), not by the platform"
    ),
    "source.generic_corp_warehouse.platform.redaction_counts": (
        "a batch without a finding adds no row; load_batches covers the loader"
    ),
    "source.generic_corp_warehouse.platform.live_store_batches": (
        "written by the live store's build and the loader's calls, not by the platform"
    ),
    "source.generic_corp_warehouse.platform.retention_purged_days": (
        "written by retention runs, and only when something expires"
    ),
}
# Models whose key is not tested by a scan on every build, and why (docs/architecture.md,
# "Tests whose cost follows new data").
KEY_ENFORCED_ELSEWHERE = {
    "model.generic_corp_warehouse.stg_platform__task_execution_rows": (
        "a view of raw.task_executions, whose unique (_batch_id, _source_line, start_time) "
        "index is the key"
    ),
    "model.generic_corp_warehouse.stg_platform__task_execution_versions": (
        "raw.task_executions has a unique (_batch_id, _source_line) index and NOT NULL ids"
    ),
    "model.generic_corp_warehouse.int_task_executions_checked": (
        "one row per staging task (unique index) by left joins on unique keys; tested on "
        "analytics.task_executions"
    ),
    "model.generic_corp_warehouse.int_task_costs": (
        "one row per checked task by lateral lookups of at most one price; tested on "
        "analytics.task_executions"
    ),
}
NAMING = {
    "staging": re.compile(r"^stg_platform__[a-z_]+$"),
    "intermediate": re.compile(r"^int_[a-z_]+$"),
    "marts": re.compile(r"^[a-z][a-z_]+$"),
    "monitoring": re.compile(r"^[a-z][a-z_]+$"),
    "support": re.compile(r"^support_[a-z_]+$"),
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("manifest-target")
    saved = os.environ.get("DBT_TARGET_PATH")
    os.environ["DBT_TARGET_PATH"] = str(target)
    try:
        run_dbt(["parse", "--quiet"])
    finally:
        if saved is None:
            os.environ.pop("DBT_TARGET_PATH")
        else:
            os.environ["DBT_TARGET_PATH"] = saved
    return json.loads((target / "manifest.json").read_text())


def models(manifest: dict) -> dict[str, dict]:
    return {
        key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }


def layer(node: dict) -> str:
    return node["fqn"][1]


def test_every_model_and_source_is_described(manifest):
    undocumented = [key for key, node in models(manifest).items() if not node["description"]]
    undocumented += [key for key, node in manifest["sources"].items() if not node["description"]]
    assert undocumented == []


def test_every_column_of_every_mart_monitoring_and_support_model_is_described(manifest):
    missing = []
    for key, node in models(manifest).items():
        if layer(node) not in ("marts", "monitoring", "support"):
            continue
        documented = {name for name, column in node["columns"].items() if column["description"]}
        relation = node["relation_name"]
        missing += [f"{relation}: {name}" for name in node["columns"] if name not in documented]
        assert node["columns"], f"{key} documents no columns"
    assert missing == []


def test_mart_docs_list_the_columns_the_models_produce(manifest):
    """Documented columns are the columns the SQL selects (no stale or missing entries): named
    in the model's SQL or in a macro it calls."""
    for node in models(manifest).values():
        if layer(node) != "marts":
            continue
        macros = [manifest["macros"][key] for key in node["depends_on"]["macros"]]
        sql = "\n".join([node["raw_code"], *(macro["macro_sql"] for macro in macros)])
        for name in node["columns"]:
            assert re.search(rf"\b{name}\b", sql), f"{node['name']}.{name} not in its SQL"


def test_every_model_has_a_primary_key_test(manifest):
    tested: dict[str, set[str]] = {}
    keyed: set[str] = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        name = node["test_metadata"]["name"]
        for model in node["depends_on"]["nodes"]:
            if name == "unique_combination_of_columns":
                keyed.add(model)
            elif name in ("unique", "not_null"):
                tested.setdefault(f"{model}:{node['column_name']}", set()).add(name)
    keyed |= {key.split(":")[0] for key, names in tested.items() if names == {"unique", "not_null"}}
    assert sorted(set(models(manifest)) - keyed - set(KEY_ENFORCED_ELSEWHERE)) == []
    assert set(KEY_ENFORCED_ELSEWHERE) <= set(models(manifest)) - keyed


def test_every_source_has_freshness_or_a_stated_reason(manifest):
    for key, source in manifest["sources"].items():
        freshness = source.get("freshness") or {}
        has_freshness = bool(freshness.get("warn_after", {}).get("count")) or bool(
            freshness.get("error_after", {}).get("count")
        )
        assert has_freshness or key in NO_FRESHNESS, key
        if has_freshness:
            assert source["loaded_at_field"], key


def test_only_staging_reads_sources_and_staging_never_reads_staging(manifest):
    for key, node in models(manifest).items():
        upstream = node["depends_on"]["nodes"]
        reads_source = any(item.startswith("source.") for item in upstream)
        if layer(node) == "staging":
            assert not any(item.startswith("model.") and ".stg_" in item for item in upstream), key
        else:
            assert not reads_source, key


def test_names_follow_the_house_style(manifest):
    for key, node in models(manifest).items():
        assert NAMING[layer(node)].match(node["name"]), key
    for key, node in manifest["sources"].items():
        assert node["source_name"] == "platform", key


def test_no_literal_schema_table_names_in_models(manifest):
    literal = re.compile(r"\b(raw|staging|analytics|monitoring|support)\.[a-z_]+\b")
    comments = re.compile(r"\{#.*?#\}|--[^\n]*", re.DOTALL)
    offenders = [
        node["name"]
        for node in models(manifest).values()
        if literal.search(comments.sub("", node["raw_code"]))
    ]
    assert offenders == []


def test_every_macro_is_described(manifest):
    """macros/_macros.yml describes every macro and generic test of the project, and every
    argument it documents is one the macro takes."""
    macros = {
        key: macro
        for key, macro in manifest["macros"].items()
        if macro["package_name"] == "generic_corp_warehouse"
    }
    assert macros
    assert sorted(key for key, macro in macros.items() if not macro["description"]) == []
