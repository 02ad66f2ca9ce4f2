"""``monitoring.unrecognized_landing_files``: files in the landing directory that are not landing
files (a misnamed file is data that never arrives), and the warning alert that says so.

One row per file and signature (size and modification time), with when it was first seen and
why it is not a landing file; one alert per file, dated the day it was first seen, so that
evaluating again (or the file changing) never raises it twice. Like ``monitoring.alerts``, the
table belongs to this code, not to dbt, and is created on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from warehouse.alerting.rules import Alert
from warehouse.ingest.loader import UnrecognizedFile
from warehouse.ingest.parsing import EXPECTED_NAMES

RULE = "unrecognized_landing_file"

CREATE_TABLE = """
create schema if not exists monitoring;
create table if not exists monitoring.unrecognized_landing_files (
    file_path text not null,
    signature text not null,
    reason text not null,
    first_seen_at timestamptz not null default now(),
    primary key (file_path, signature)
);
comment on table monitoring.unrecognized_landing_files is
    'Files in the landing directory that are not landing files and were not loaded '
    '(one row per file and signature: size and modification time).';
"""

INSERT = """
insert into monitoring.unrecognized_landing_files (file_path, signature, reason)
values (%s, %s, %s)
on conflict (file_path, signature) do nothing
"""

FIRST_SEEN = """
select file_path, min(first_seen_at)
from monitoring.unrecognized_landing_files
where file_path = any(%s)
group by file_path
"""


def ensure_table(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute(CREATE_TABLE)


def record(
    connection: psycopg.Connection, files: Sequence[tuple[UnrecognizedFile, str]]
) -> dict[str, datetime]:
    """Record each (file, signature) not recorded before; return, per file path, when the file
    was first seen (under any signature)."""
    ensure_table(connection)
    with connection.transaction():
        for item, signature in files:
            connection.execute(INSERT, (str(item.path), signature, item.reason))
        rows = connection.execute(FIRST_SEEN, ([str(item.path) for item, _ in files],))
        return dict(rows.fetchall())


def alert(item: UnrecognizedFile, first_seen_at: datetime) -> Alert:
    """The warning for one unrecognized file (its date: the day it was first seen, UTC)."""
    return Alert(
        RULE,
        "warning",
        str(item.path),
        first_seen_at.astimezone(UTC).date(),
        f"{item.path.name} in the landing directory was not loaded: not a landing file "
        f"({item.reason}); expected {EXPECTED_NAMES}",
        {"path": str(item.path), "reason": item.reason, "first_seen_at": first_seen_at.isoformat()},
    )


def alerts_for(
    connection: psycopg.Connection, files: Sequence[tuple[UnrecognizedFile, str]]
) -> list[Alert]:
    """Record the files and return one alert per file (publishing de-duplicates them)."""
    first_seen = record(connection, files)
    return [alert(item, first_seen[str(item.path)]) for item, _ in files]
