"""Micro-batches of new tasks for the scale bench's faults phase, as landing files.

A template is read once from the generated data: every version of the newest ``tasks`` tasks
(by task number, so the same tasks for the same plan and seed). Batch number k is that template
with fresh ids (a task's versions keep one id between them, a different one in every batch) and
``-m<k>`` added to the platform's task id, so that each batch is new tasks that can be counted
exactly; plus one line that cannot be parsed (a start time that is not a time), which the
loader must put into ``raw.rejected_rows``. The file is named like any landing file of
``task_executions`` and is written in the format the bench's load phase exports (``COPY ... TO
... (format csv, header)``), which ``warehouse load`` and ``load_paths`` accept.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.scale_dataset import TASK_ID
from warehouse.ingest.contract import TABLES

FRESH_IDS = uuid.UUID("5f0c6b9e-2d47-4c1a-9a53-0b1e8e7d6c21")  # uuid5 namespace of the copies
UNPARSEABLE_START_TIME = "not a time"


@dataclass(frozen=True)
class MicroBatch:
    path: Path
    tasks: int  # parseable tasks, all new
    versions: int  # their versions, one line each
    lines: int  # data lines: the versions and the unparseable line


class MicroBatchWriter:
    def __init__(self, folder: Path, header: list[str], rows: list[list[str]]) -> None:
        if not rows:
            raise ValueError("the micro-batch template holds no task version")
        self.folder = folder
        self.header = header
        self.rows = rows
        self.id_index = header.index("id")
        self.task_id_index = header.index("task_id")
        self.start_index = header.index("start_time")
        self.organization_index = header.index("organization_id")
        self.tasks = len({row[self.id_index] for row in rows})
        self.versions = len(rows)
        folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_database(
        cls, connection: psycopg.Connection, folder: Path, seed: int, task_numbers: range
    ) -> MicroBatchWriter:
        """The template: every raw version of the tasks numbered ``task_numbers`` (through the
        raw table's (id, updated_at) index)."""
        columns = ", ".join(TABLES["task_executions"].column_names)
        query = (
            f"copy (select {columns} from raw.task_executions where id = any(array("
            f"select {TASK_ID} from generate_series(%(first)s::bigint, %(last)s::bigint - 1) "
            "as n)) order by id, updated_at, status) to stdout with (format csv, header)"
        )
        params = {"seed": str(seed), "first": task_numbers.start, "last": task_numbers.stop}
        text = io.BytesIO()
        with connection.cursor() as cursor, cursor.copy(query, params) as copy:
            for chunk in copy:
                text.write(chunk)
        header, *rows = csv.reader(io.StringIO(text.getvalue().decode("utf-8")))
        return cls(folder, header, rows)

    def write(self, number: int) -> MicroBatch:
        """Batch ``number``: the template under fresh ids, then the unparseable line."""
        path = self.folder / f"task_executions__micro_{number:06d}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.header)
            for row in self.rows:
                writer.writerow(self._fresh(row, number, row[self.id_index]))
            unparseable = self._fresh(self.rows[0], number, "unparseable")
            unparseable[self.start_index] = UNPARSEABLE_START_TIME
            writer.writerow(unparseable)
        return MicroBatch(path, self.tasks, self.versions, self.versions + 1)

    def template_organizations(self) -> dict[str, str]:
        """The template's task ids and the organization of each."""
        return {row[self.id_index]: row[self.organization_index] for row in self.rows}

    @staticmethod
    def task_id(number: int, template_id: str) -> str:
        """The id that the template's task ``template_id`` has in batch ``number``."""
        return str(uuid.uuid5(FRESH_IDS, f"{number}:{template_id}"))

    def _fresh(self, row: list[str], number: int, key: str) -> list[str]:
        copy = list(row)
        copy[self.id_index] = self.task_id(number, key)
        copy[self.task_id_index] = f"{row[self.task_id_index]}-m{number}"
        return copy
