"""Running dbt in-process against the warehouse database (saves dbt's start-up per command)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dbt.cli.main import dbtRunner, dbtRunnerResult

from warehouse import settings


class DbtCommandError(RuntimeError):
    pass


@contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """Set these environment variables for the duration of the block, then restore them."""
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_environment() -> dict[str, str]:
    """The libpq variables of the warehouse database plus the profiles directory."""
    return {**settings.connection().as_env(), "DBT_PROFILES_DIR": str(settings.profiles_dir())}


def run_dbt(
    args: Sequence[str], *, check: bool = True, as_of: str | None = None
) -> dbtRunnerResult:
    """Run one dbt command from the project directory; raise on failure when ``check``.
    ``as_of`` (ISO-8601) is the build's point in time, passed as WAREHOUSE_AS_OF: unlike a new
    ``--vars``, a new value does not make dbt parse the whole project again."""
    full_args = [
        *args,
        "--project-dir",
        str(settings.project_dir()),
        "--profiles-dir",
        str(settings.profiles_dir()),
    ]
    overrides = dbt_environment()
    if as_of is not None:
        overrides["WAREHOUSE_AS_OF"] = as_of
    with environment(overrides):
        result = dbtRunner().invoke(full_args)
    if check and not result.success:
        detail = f": {result.exception}" if result.exception else ""
        raise DbtCommandError(f"dbt {' '.join(args)} failed{detail}")
    return result
