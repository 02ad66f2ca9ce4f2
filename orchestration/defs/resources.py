"""Resources: the dbt CLI, the warehouse database, and the settings the sensors and assets read.

Settings are resource fields read from environment variables with ``dg.EnvVar`` (the value is
resolved when a run or a sensor tick starts, and the UI shows which variable a field comes
from). A variable that is not set where the code location loads leaves the field at its
default, the same default the warehouse package uses. Nothing here connects to the database or
runs dbt at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource
from pydantic import Field

from orchestration.defs.project import DBT_PROJECT, dbt_executable
from warehouse import postgres, settings
from warehouse.alerting.channels import Channel, parse_urls
from warehouse.alerting.publish import DEFAULT_MIN_SEVERITY
from warehouse.dbt import dbt_environment, environment
from warehouse.health import HealthThresholds

Default = TypeVar("Default", str, int)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL: the one PGHOST names, else the embedded server."""

    def ensure_started(self) -> settings.ConnectionSettings:
        """Make sure the database answers: starts the embedded server when it is ours (and not
        running yet); never touches a server PGHOST names beyond creating a missing database."""
        return postgres.up()

    def connect(self) -> AbstractContextManager[psycopg.Connection]:
        """An autocommit connection; the caller closes it (``with warehouse.connect() as c``)."""
        return postgres.connect(autocommit=True)

    @contextmanager
    def libpq_environment(self) -> Iterator[None]:
        """Export the database's libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, and the
        TLS ones that are set: PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY) and
        DBT_PROFILES_DIR for the block, then restore the previous values.

        dagster-dbt starts dbt with a copy of this process's environment (and renders the profile
        from it) and takes no environment of its own, so this is how dbt learns where the
        embedded server's socket is. With PGHOST & co already exported it changes nothing."""
        with environment(dbt_environment()):
            yield


class LandingDirectory(dg.ConfigurableResource):
    """Where landing files arrive (``WAREHOUSE_LANDING_DIR``)."""

    directory: str = Field(description="Directory the landing sensor watches and loads from.")

    @property
    def path(self) -> Path:
        return Path(self.directory).resolve()


class AlertingResource(dg.ConfigurableResource):
    """How alerts are raised: the webhook they are posted to and from which severity."""

    webhook_url: str = Field(
        default="",
        description="ALERT_WEBHOOK_URL: alerts are POSTed here as JSON (a secret); empty: "
        "alerts are stored and logged only.",
    )
    webhook_min_severity: str = Field(
        default=DEFAULT_MIN_SEVERITY,
        description="ALERT_WEBHOOK_MIN_SEVERITY: info | warning | critical; lower severities "
        "are stored and logged, not posted.",
    )
    alert_urls: str = Field(
        default="",
        description="ALERT_URLS: Apprise URLs (slack://, msteams://, mailto://, json://, ...) "
        "alerts are sent to as well, from the same severity (secrets).",
    )

    @property
    def channels(self) -> list[Channel]:
        return parse_urls(self.alert_urls)


class RetentionResource(dg.ConfigurableResource):
    """How long raw rows and archives are kept, and where the archive is (docs/privacy.md)."""

    archive_uri: str = Field(
        default="",
        description="WAREHOUSE_ARCHIVE_URI: the archive directory (a path or a file:// URI); "
        "empty: $WAREHOUSE_HOME/archive.",
    )
    retention_days: int = Field(
        default=settings.DEFAULT_RETENTION_DAYS,
        description="WAREHOUSE_RETENTION_DAYS: days raw task rows are kept for an organization "
        "whose retention_days is null.",
    )
    archive_days: int = Field(
        default=settings.DEFAULT_ARCHIVE_DAYS,
        description="WAREHOUSE_ARCHIVE_DAYS: days an archived month is kept after it ended.",
    )

    @property
    def archive(self) -> Path:
        return (
            settings.archive_path(self.archive_uri) if self.archive_uri else settings.archive_dir()
        )


class HealthResource(dg.ConfigurableResource):
    """When database health raises an alert (docs/operations.md)."""

    slow_query_ms: int = Field(
        default=settings.DEFAULT_SLOW_QUERY_MS,
        description="WAREHOUSE_SLOW_QUERY_MS: a query running longer is recorded and alerts.",
    )
    cache_hit_min_percent: int = Field(
        default=settings.DEFAULT_CACHE_HIT_MIN_PERCENT,
        description="WAREHOUSE_CACHE_HIT_MIN_PERCENT: alert under this buffer cache hit ratio.",
    )
    connections_max_percent: int = Field(
        default=settings.DEFAULT_CONNECTIONS_MAX_PERCENT,
        description="WAREHOUSE_CONNECTIONS_MAX_PERCENT: alert over this share of max_connections.",
    )
    disk_max_percent: int = Field(
        default=settings.DEFAULT_DISK_MAX_PERCENT,
        description="WAREHOUSE_DISK_MAX_PERCENT: alert when the embedded server's filesystem "
        "is fuller than this.",
    )
    # A string: Dagster reads no float from an environment variable.
    table_growth_factor: str = Field(
        default=str(settings.DEFAULT_TABLE_GROWTH_FACTOR),
        description="WAREHOUSE_TABLE_GROWTH_FACTOR: alert when a table grew more than this "
        "many times since the previous snapshot...",
    )
    table_growth_min_mb: int = Field(
        default=settings.DEFAULT_TABLE_GROWTH_MIN_MB,
        description="WAREHOUSE_TABLE_GROWTH_MIN_MB: ...and is at least this large.",
    )

    @property
    def thresholds(self) -> HealthThresholds:
        return HealthThresholds(
            slow_query_ms=self.slow_query_ms,
            cache_hit_min_percent=self.cache_hit_min_percent,
            connections_max_percent=self.connections_max_percent,
            disk_max_percent=self.disk_max_percent,
            table_growth_factor=settings.growth_factor(self.table_growth_factor),
            table_growth_min_mb=self.table_growth_min_mb,
        )


class MartsRefreshResource(dg.ConfigurableResource):
    """How far the marts may lag raw (the near-real-time sensor, docs/operations.md)."""

    max_lag_minutes: int = Field(
        default=settings.DEFAULT_MARTS_MAX_LAG_MINUTES,
        description="WAREHOUSE_MARTS_MAX_LAG_MINUTES: a build starts for new raw batches once "
        "the last build started at least this many minutes ago.",
    )


def env_or(name: str, default: Default) -> Default | dg.EnvVar:
    """``dg.EnvVar(name)`` when the variable is set where the code location loads, else
    ``default`` (an unset ``dg.EnvVar`` is an error, and these settings have defaults)."""
    if name not in os.environ:
        return default
    return dg.EnvVar.int(name) if isinstance(default, int) else dg.EnvVar(name)


def landing_directory() -> LandingDirectory:
    return LandingDirectory(
        directory=env_or("WAREHOUSE_LANDING_DIR", str(settings.landing_dir())),
    )


def alerting_resource() -> AlertingResource:
    return AlertingResource(
        webhook_url=env_or("ALERT_WEBHOOK_URL", ""),
        webhook_min_severity=env_or("ALERT_WEBHOOK_MIN_SEVERITY", DEFAULT_MIN_SEVERITY),
        alert_urls=env_or("ALERT_URLS", ""),
    )


def retention_resource() -> RetentionResource:
    return RetentionResource(
        archive_uri=env_or("WAREHOUSE_ARCHIVE_URI", ""),
        retention_days=env_or("WAREHOUSE_RETENTION_DAYS", settings.DEFAULT_RETENTION_DAYS),
        archive_days=env_or("WAREHOUSE_ARCHIVE_DAYS", settings.DEFAULT_ARCHIVE_DAYS),
    )


def health_resource() -> HealthResource:
    return HealthResource(
        slow_query_ms=env_or("WAREHOUSE_SLOW_QUERY_MS", settings.DEFAULT_SLOW_QUERY_MS),
        cache_hit_min_percent=env_or(
            "WAREHOUSE_CACHE_HIT_MIN_PERCENT", settings.DEFAULT_CACHE_HIT_MIN_PERCENT
        ),
        connections_max_percent=env_or(
            "WAREHOUSE_CONNECTIONS_MAX_PERCENT", settings.DEFAULT_CONNECTIONS_MAX_PERCENT
        ),
        disk_max_percent=env_or("WAREHOUSE_DISK_MAX_PERCENT", settings.DEFAULT_DISK_MAX_PERCENT),
        table_growth_factor=env_or(
            "WAREHOUSE_TABLE_GROWTH_FACTOR", str(settings.DEFAULT_TABLE_GROWTH_FACTOR)
        ),
        table_growth_min_mb=env_or(
            "WAREHOUSE_TABLE_GROWTH_MIN_MB", settings.DEFAULT_TABLE_GROWTH_MIN_MB
        ),
    )


def marts_refresh_resource() -> MartsRefreshResource:
    return MartsRefreshResource(
        max_lag_minutes=env_or(
            "WAREHOUSE_MARTS_MAX_LAG_MINUTES", settings.DEFAULT_MARTS_MAX_LAG_MINUTES
        ),
    )


def resources() -> dict[str, Any]:
    return {
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(),
        "landing_dir": landing_directory(),
        "alerting": alerting_resource(),
        "retention": retention_resource(),
        "health": health_resource(),
        "marts_refresh": marts_refresh_resource(),
    }
