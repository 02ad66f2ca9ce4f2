"""The generator: deterministic, contract-shaped, realistic lifecycles, exact chaos counts."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from warehouse.ingest.contract import PROVIDERS, TABLES
from warehouse.ingest.parsing import convert_row
from warehouse.synthetic.catalog import TIERS
from warehouse.synthetic.generator import GeneratorConfig, generate

END = date(2026, 3, 1)
SMALL = GeneratorConfig(orgs=2, days=6, seed=7, end_date=END)
CHAOS = GeneratorConfig(orgs=3, days=6, seed=7, end_date=END, chaos=True)


def digests(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


def read_csv_rows(directory: Path, table: str) -> list[dict[str, str]]:
    rows = []
    for path in sorted(directory.glob(f"{table}*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            rows += [{**row, "_file": path.name} for row in csv.DictReader(handle)]
    return rows


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, SMALL)
    return out


@pytest.fixture(scope="module")
def chaos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chaos")
    generate(out, CHAOS)
    return out


def test_same_config_gives_identical_bytes(small, tmp_path):
    generate(tmp_path, SMALL)
    assert digests(tmp_path) == digests(small)


def test_another_seed_gives_other_data(small, tmp_path):
    generate(tmp_path, GeneratorConfig(orgs=2, days=6, seed=8, end_date=END))
    assert digests(tmp_path)["organizations.csv"] != digests(small)["organizations.csv"]


def test_every_file_header_is_the_contract(small):
    for path in small.glob("*.csv"):
        table = path.name.split(".")[0].split("__")[0]
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert tuple(header) == TABLES[table].column_names, path.name


def test_clean_rows_all_pass_the_loaders_checks(small):
    for table in TABLES:
        for row in read_csv_rows(small, table):
            row.pop("_file")
            _, problems = convert_row(TABLES[table], row)
            assert problems == [], (table, row, problems)


def test_versions_follow_the_lifecycle_with_increasing_updated_at(small):
    versions = defaultdict(list)
    for row in read_csv_rows(small, "task_executions"):
        versions[row["id"]].append(row)
    allowed = {
        ("pending",), ("pending", "running"), ("pending", "running", "completed"),
        ("pending", "running", "failed"),
    }  # fmt: skip
    outcomes = defaultdict(int)
    for rows in versions.values():
        rows.sort(key=lambda row: row["updated_at"])
        statuses = tuple(row["status"] for row in rows)
        assert statuses in allowed
        assert len({row["updated_at"] for row in rows}) == len(rows)
        outcomes[statuses[-1]] += 1
        final = rows[-1]
        if final["status"] in ("completed", "failed"):
            start = datetime.fromisoformat(final["start_time"])
            end = datetime.fromisoformat(final["end_time"])
            assert int(final["duration_ms"]) == round((end - start).total_seconds() * 1000)
            assert float(final["savings_usd"]) == pytest.approx(
                float(final["baseline_cost_usd"]) - float(final["cost_usd"])
            )
    assert outcomes["completed"] > 10 * outcomes["failed"] > 0


def test_pricing_windows_of_one_key_never_overlap(small):
    windows = defaultdict(list)
    for row in read_csv_rows(small, "provider_pricing"):
        key = (row["provider"], row["task_type"], row["pricing_tier"])
        until = row["effective_until"] or "9999"
        windows[key].append((row["effective_from"], until))
    assert any(len(spans) > 1 for spans in windows.values())  # prices change mid-period
    for spans in windows.values():
        spans.sort()
        for (_, first_until), (second_from, _) in itertools.pairwise(spans):
            assert first_until <= second_from


def test_users_join_and_leave_and_roles_are_complete(small):
    users = read_csv_rows(small, "users")
    assert {user["role"] for user in users} == {"org_admin", "team_lead", "developer"}
    for org in {user["organization_id"] for user in users}:
        assert [u["role"] for u in users if u["organization_id"] == org].count("org_admin") == 1


def test_chaos_counts_match_the_files(chaos):
    manifest = json.loads((chaos / "_manifest.json").read_text())
    counts = manifest["chaos"]
    rows = read_csv_rows(chaos, "task_executions")
    assert counts["rejected_bad_uuid"] == sum(row["id"] == "not-a-uuid" for row in rows)
    assert counts["rejected_bad_timestamp"] == sum(row["start_time"].startswith("2026-13")
                                                   for row in rows)  # fmt: skip
    assert counts["rejected_bad_number"] == sum(row["cost_usd"] == "12,50" for row in rows)
    assert counts["rejected_bad_integer"] == sum(row["tokens_used"] == "1.5k" for row in rows)
    assert counts["rejected_missing_required_field"] == sum(row["provider"] == "" for row in rows)
    assert counts["rejected_bad_json"] == sum(
        row["alternative_providers"] == '["github_copilot",' for row in rows
    )
    assert counts["quarantine_unknown_status"] == sum(row["status"] == "cancelled" for row in rows)
    assert counts["quarantine_negative_cost"] == sum(row["cost_usd"].startswith("-")
                                                     for row in rows)  # fmt: skip
    assert counts["unpriced_provider_tasks"] == len(
        {row["id"] for row in rows if row["provider"] == "anthropic_claude"}
    )
    assert all(value == 3 for value in counts.values())


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_other_formats_hold_the_same_rows(small, tmp_path, file_format):
    generate(tmp_path, GeneratorConfig(orgs=2, days=6, seed=7, end_date=END,
                                       file_format=file_format))  # fmt: skip
    for table in TABLES:
        expected = sorted((row["id"], row.get("updated_at", "")) for row in
                          read_csv_rows(small, table))  # fmt: skip
        found = []
        for path in sorted(tmp_path.glob(f"{table}*.{file_format}")):
            if file_format == "jsonl":
                records = [json.loads(line) for line in path.read_text().splitlines()]
            else:
                records = pq.read_table(path).to_pylist()
            found += [(r["id"], r.get("updated_at") or "") for r in records]
        assert sorted(found) == expected, table


def test_nothing_starts_or_is_delivered_after_until(tmp_path):
    until = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    generate(tmp_path, GeneratorConfig(orgs=2, days=3, seed=1, end_date=END, until=until))

    rows = read_csv_rows(tmp_path, "task_executions")
    decisions = read_csv_rows(tmp_path, "routing_decisions")

    assert max(datetime.fromisoformat(row["updated_at"]) for row in rows) <= until
    assert max(datetime.fromisoformat(row["created_at"]) for row in decisions) <= until
    newest = {}
    for row in sorted(rows, key=lambda row: row["updated_at"]):
        newest[row["id"]] = row["status"]
    assert "running" in newest.values()  # tasks under way at `until` are still open


SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def seed_column(seed: str, column: str, where: str | None = None) -> set[str]:
    """The values of a seed's column (of the rows whose column ``where`` is true)."""
    with open(SEEDS / f"{seed}.csv", newline="", encoding="utf-8") as handle:
        return {row[column] for row in csv.DictReader(handle) if not where or row[where] == "true"}


def test_generated_catalogue_values_are_the_seeds(tmp_path):
    """Every provider, task type and pricing tier the generator writes (chaos included) is in
    the seeds; every seed task type and tier occurs, and the providers it routes to are the
    baseline-capable ones (the chaos provider has no price list)."""
    generate(tmp_path, CHAOS)
    values: dict[str, set[str]] = defaultdict(set)
    for path in tmp_path.glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for column in ("provider", "task_type", "pricing_tier", "chosen_provider"):
                    if row.get(column):
                        values[column].add(row[column])

    assert values["task_type"] == seed_column("task_types", "task_type_id")
    assert values["pricing_tier"] <= seed_column("pricing_tiers", "pricing_tier")
    assert values["provider"] | values["chosen_provider"] == seed_column("providers", "provider_id")
    assert seed_column("providers", "provider_id", where="can_be_baseline") == set(PROVIDERS)
    assert set(TIERS) <= seed_column("pricing_tiers", "pricing_tier")
