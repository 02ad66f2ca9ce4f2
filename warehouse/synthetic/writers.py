"""Write generated rows as CSV, JSONL or Parquet landing files with the contract's columns."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from warehouse.ingest.contract import TABLES, ColumnType

# A row holding this key is written verbatim as one JSONL line (a line that is not JSON).
RAW_LINE = "__raw_line__"


def _text(value: Any) -> str | None:
    """The text form of a value, as it appears in a CSV field (None for null)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json_value(value: Any, column_type: ColumnType) -> Any:
    if column_type is ColumnType.JSONB and isinstance(value, list | dict):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _text(value)


def write_table(out_dir: Path, name: str, table: str, rows: list[dict[str, Any]],
                file_format: str) -> str:  # fmt: skip
    """Write ``rows`` to ``out_dir/<name>.<file_format>``; return the file name."""
    columns = TABLES[table].columns
    path = out_dir / f"{name}.{file_format}"
    if file_format == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([column.name for column in columns])
            for row in rows:
                writer.writerow([_text(row.get(column.name)) or "" for column in columns])
    elif file_format == "jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                if RAW_LINE in row:
                    handle.write(row[RAW_LINE] + "\n")
                    continue
                record = {c.name: _json_value(row.get(c.name), c.type) for c in columns}
                handle.write(json.dumps(record, sort_keys=True) + "\n")
    elif file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Every column as text: the loader types the values, exactly as for CSV.
        data = {c.name: [_text(row.get(c.name)) for row in rows] for c in columns}
        schema = pa.schema([(c.name, pa.string()) for c in columns])
        pq.write_table(pa.Table.from_pydict(data, schema=schema), path)
    else:
        raise ValueError(f"unknown file format {file_format!r}; use csv, jsonl or parquet")
    return path.name
