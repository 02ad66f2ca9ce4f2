"""``monitoring.alerts``: every alert once, with when it was raised and delivered (to the JSON
webhook: ``delivered_at``; to each ALERT_URLS channel: ``monitoring.alert_deliveries``).

The table belongs to the alerting code, not to dbt (dbt never writes it); it is created on first
use, so a rebuilt ``monitoring`` schema gets it back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from warehouse.alerting.rules import Alert

CREATE_TABLE = """
create schema if not exists monitoring;
create table if not exists monitoring.alerts (
    alert_id bigint generated always as identity primary key,
    rule text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    subject text not null,
    alert_date date not null,
    message text not null,
    details jsonb not null default '{}'::jsonb,
    raised_at timestamptz not null default now(),
    delivered_at timestamptz,
    unique (rule, subject, alert_date, severity)
);
comment on table monitoring.alerts is
    'Alerts raised by the orchestration (one per rule, subject, day and severity).';
create table if not exists monitoring.alert_deliveries (
    alert_id bigint not null references monitoring.alerts (alert_id) on delete cascade,
    channel text not null,
    delivered_at timestamptz not null default now(),
    primary key (alert_id, channel)
);
comment on table monitoring.alert_deliveries is
    'Which ALERT_URLS channel (a digest of its URL) accepted which alert, and when.';
"""

INSERT = """
insert into monitoring.alerts (rule, severity, subject, alert_date, message, details)
values (%s, %s, %s, %s, %s, %s)
on conflict (rule, subject, alert_date, severity) do nothing
returning alert_id
"""


def ensure_table(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute(CREATE_TABLE)


def record(connection: psycopg.Connection, alerts: list[Alert]) -> list[tuple[int, Alert]]:
    """Insert the alerts not raised before; return the new ones with their ids."""
    ensure_table(connection)
    new: list[tuple[int, Alert]] = []
    with connection.transaction():
        for alert in alerts:
            row = connection.execute(
                INSERT,
                (
                    alert.rule,
                    alert.severity,
                    alert.subject,
                    alert.alert_date,
                    alert.message,
                    Jsonb(alert.details),
                ),
            ).fetchone()
            if row is not None:
                new.append((row[0], alert))
    return new


def undelivered(
    connection: psycopg.Connection,
    *,
    severities: tuple[str, ...],
    within: timedelta = timedelta(days=1),
) -> list[tuple[int, Alert]]:
    """Alerts of these severities raised in the last ``within`` that no webhook has accepted
    yet, oldest first."""
    rows = connection.execute(
        """
        select alert_id, rule, severity, subject, alert_date, message, details
        from monitoring.alerts
        where delivered_at is null and raised_at >= %s and severity = any(%s)
        order by alert_id
        """,
        (datetime.now(UTC) - within, list(severities)),
    ).fetchall()
    return [(row[0], Alert(*row[1:])) for row in rows]


def mark_delivered(connection: psycopg.Connection, alert_id: int) -> None:
    connection.execute(
        "update monitoring.alerts set delivered_at = now() where alert_id = %s", (alert_id,)
    )


def undelivered_to(
    connection: psycopg.Connection,
    channel: str,
    *,
    severities: tuple[str, ...],
    within: timedelta = timedelta(days=1),
) -> list[tuple[int, Alert]]:
    """Alerts of these severities raised in the last ``within`` that ``channel`` has not
    accepted yet, oldest first."""
    rows = connection.execute(
        """
        select alert_id, rule, severity, subject, alert_date, message, details
        from monitoring.alerts
        where raised_at >= %s and severity = any(%s)
            and not exists (
                select from monitoring.alert_deliveries as delivered
                where delivered.alert_id = alerts.alert_id and delivered.channel = %s
            )
        order by alert_id
        """,
        (datetime.now(UTC) - within, list(severities), channel),
    ).fetchall()
    return [(row[0], Alert(*row[1:])) for row in rows]


def mark_delivered_to(connection: psycopg.Connection, alert_id: int, channel: str) -> None:
    connection.execute(
        "insert into monitoring.alert_deliveries (alert_id, channel) values (%s, %s) "
        "on conflict do nothing",
        (alert_id, channel),
    )
