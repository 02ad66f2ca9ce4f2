"""Raising alerts: record each once, log it, and post it to the webhook when one is set."""

from __future__ import annotations

import logging

import psycopg

from warehouse.alerting import store, webhook
from warehouse.alerting.rules import SEVERITIES, Alert

# Info alerts (negative savings: "log and investigate") are stored and logged, not posted,
# unless the minimum severity is info.
DEFAULT_MIN_SEVERITY = "warning"
LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.ERROR}


def publish(
    connection: psycopg.Connection,
    alerts: list[Alert],
    *,
    log: logging.Logger | logging.LoggerAdapter,
    webhook_url: str = "",
    min_severity: str = DEFAULT_MIN_SEVERITY,
) -> list[Alert]:
    """Record the alerts (de-duplicated), log the new ones, deliver the undelivered ones.

    Returns the alerts that were new. With a ``webhook_url``, alerts at or above
    ``min_severity`` are posted to it; a webhook that fails is logged and retried on the next
    call (for alerts raised in the last day); the alert itself is never lost.
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"alert min_severity must be one of {SEVERITIES}, not {min_severity!r}")
    new = store.record(connection, alerts)
    for _, alert in new:
        log.log(LOG_LEVELS[alert.severity], "alert %s [%s] %s", alert.rule, alert.severity,
                alert.message)  # fmt: skip
    if webhook_url:
        posted = SEVERITIES[SEVERITIES.index(min_severity) :]
        for alert_id, alert in store.undelivered(connection, severities=posted):
            try:
                webhook.post_json(webhook_url, {"alert_id": alert_id, **alert.as_json()})
            except webhook.WebhookError as error:
                log.warning("%s; will retry", error)
                break
            store.mark_delivered(connection, alert_id)
    return [alert for _, alert in new]
