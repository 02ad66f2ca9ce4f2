"""Time the sanitizer over the free text of generated task files, as the loader meets it.

Reads every ``task_description`` and ``error_message`` of the ``task_executions*.csv`` files in a
directory written by ``warehouse generate`` (one text per row and field, duplicates kept, as the
row-by-row path sanitizes them), then times ``sanitize_text`` over all of them, and over the
distinct texts only (what the column-wise CSV path sanitizes). With ``--before DIR``, the same
for the sanitizer of another checkout (e.g. ``git archive main warehouse | tar -x -C DIR``),
interleaved run by run so both see the same machine load. Prints one markdown row per
sanitizer and set of texts: median seconds of ``--runs`` passes, texts per second.

    .venv/bin/warehouse generate /tmp/gen --orgs 60 --days 30 --seed 11
    .venv/bin/python -m benchmarks.bench_sanitizer /tmp/gen --before /tmp/main --runs 5
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from warehouse.privacy import sanitize

FIELDS = ("task_description", "error_message")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("landing", type=Path, help="a directory written by warehouse generate")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a directory holding another `warehouse`")
    return parser.parse_args(argv)


def read_texts(landing: Path) -> list[str]:
    texts: list[str] = []
    csv.field_size_limit(sys.maxsize)
    for path in sorted(landing.glob("task_executions*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.extend(row[field] for field in FIELDS if row.get(field))
    return texts


def module_from(directory: Path) -> ModuleType:
    path = directory / "warehouse" / "privacy" / "sanitize.py"
    spec = importlib.util.spec_from_file_location("sanitize_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: no sanitizer there; pass a directory holding `warehouse/`")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def one_pass(function: Callable[[str], object], texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        function(text)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    texts = read_texts(args.landing)
    if not texts:
        raise SystemExit(f"{args.landing}: no task_executions*.csv with free text; run "
                         "`warehouse generate DIR` first")  # fmt: skip
    distinct = sorted(set(texts))
    sanitizers = {"this checkout": sanitize}
    if args.before is not None:
        sanitizers = {"before": module_from(args.before), **sanitizers}
    changed = sum(1 for text in texts if sanitize.sanitize_text(text) != text)
    print(f"{len(texts):,} texts ({len(distinct):,} distinct), {changed:,} with a finding")
    sets = {"every text": texts, "distinct texts": distinct}
    timings: dict[tuple[str, str], list[float]] = {
        (name, label): [] for name in sanitizers for label in sets
    }
    for _ in range(args.runs):
        for name, module in sanitizers.items():
            for label, chosen in sets.items():
                timings[(name, label)].append(one_pass(module.sanitize_text, chosen))
    print("| sanitizer | texts | median s | texts/s |")
    print("|---|---|---:|---:|")
    for (name, label), seconds in timings.items():
        median = statistics.median(seconds)
        count = len(sets[label])
        print(f"| {name} | {label} ({count:,}) | {median:.3f} | {count / median:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
