"""The generator's entities, shared by the generator and the chaos step (which must not import
each other both ways)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class GeneratorConfig:
    end_date: date
    orgs: int = 3
    days: int = 60
    seed: int = 42
    chaos: bool = False
    file_format: str = "csv"
    # The moment the platform stands at: nothing starts after it and versions written after it
    # are not delivered yet (the task is still running). None: the end of ``end_date``.
    until: datetime | None = None
    # Plant one cost spike (the first organization, the last weekday before end_date).
    cost_spike: bool = True

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)


@dataclass
class Organization:
    row: Row
    timezone_offset: int
    users: list[Row] = field(default_factory=list)
    activity: dict[str, float] = field(default_factory=dict)
