"""Command-line values shared by the commands that take a month and an organization (`warehouse
report`, `warehouse export focus`): parsed once, with errors that say what is expected."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID


class ArgumentError(ValueError):
    """A value the command cannot use; the message names the option and what it expects."""


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the month's first day."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ArgumentError(f"--month must be YYYY-MM, like 2026-11, not {text!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_organization(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise ArgumentError(f"--org must be an organization id (a UUID), not {text!r}") from None


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
