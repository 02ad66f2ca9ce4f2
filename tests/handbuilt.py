"""Helpers of the tests that build a small warehouse by hand: landing files written from rows,
the usual price list, and a warehouse loaded and built once per test module."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.conftest import database_for_module
from warehouse import settings
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths

# USD per token, from 2020 on: the baseline (github_copilot) costs three times openai_codex.
PRICES = {"github_copilot": "0.00003", "openai_codex": "0.00001"}


def write(path: Path, rows: list[dict[str, object]]) -> None:
    """A landing CSV file of ``rows`` (the first row's keys are the header)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_prices(landing: Path, prices: dict[str, str] = PRICES) -> None:
    """provider_pricing.csv: one price per token for each provider, from 2020 on."""
    write(landing / "provider_pricing.csv", [
        {"id": f"10000000-0000-4000-8000-00000000000{number + 1}", "provider": provider,
         "cost_per_token": price, "effective_from": "2020-01-01T00:00:00Z"}
        for number, (provider, price) in enumerate(prices.items())
    ])  # fmt: skip


@contextmanager
def built_warehouse(
    server: settings.ConnectionSettings,
    tmp_path: Path,
    build_landing: Callable[[Path], None],
    as_of: str,
    *dbt_args: str,
) -> Iterator[psycopg.Connection]:
    """A new database holding the landing files ``build_landing`` writes, loaded and built
    (``dbt build`` as of ``as_of``, with ``dbt_args``); an autocommit connection to it."""
    with database_for_module(server, tmp_path) as connection:
        build_landing(tmp_path / "landing")
        load_paths(connection, [tmp_path / "landing"])
        run_dbt(["build", *dbt_args], as_of=as_of)
        yield connection
