"""Raising alerts: record each once, log it, and post it to the webhook when one is set."""

from __future__ import annotations

import logging
import os

import psycopg

from warehouse.alerting import store, webhook
from warehouse.alerting.rules import SEVERITIES, Alert

WEBHOOK_VARIABLE = "ALERT_WEBHOOK_URL"
# Info alerts (negative savings: "log and investigate") are stored and logged, not posted,
# unless ALERT_WEBHOOK_MIN_SEVERITY=info.
MIN_SEVERITY_VARIABLE = "ALERT_WEBHOOK_MIN_SEVERITY"
DEFAULT_MIN_SEVERITY = "warning"
LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.ERROR}


def publish(
    connection: psycopg.Connection,
    alerts: list[Alert],
    *,
    log: logging.Logger | logging.LoggerAdapter,
    webhook_url: str | None = None,
) -> list[Alert]:
    """Record the alerts (de-duplicated), log the new ones, deliver the undelivered ones.

    Returns the alerts that were new. Alerts at or above ALERT_WEBHOOK_MIN_SEVERITY are posted;
    a webhook that fails is logged and retried on the next call (for alerts raised in the last
    day); the alert itself is never lost.
    """
    new = store.record(connection, alerts)
    for _, alert in new:
        log.log(LOG_LEVELS[alert.severity], "alert %s [%s] %s", alert.rule, alert.severity,
                alert.message)  # fmt: skip
    url = webhook_url if webhook_url is not None else os.environ.get(WEBHOOK_VARIABLE)
    if url:
        floor = os.environ.get(MIN_SEVERITY_VARIABLE, DEFAULT_MIN_SEVERITY)
        if floor not in SEVERITIES:
            raise ValueError(f"{MIN_SEVERITY_VARIABLE} must be one of {SEVERITIES}, not {floor!r}")
        posted = SEVERITIES[SEVERITIES.index(floor) :]
        for alert_id, alert in store.undelivered(connection, severities=posted):
            try:
                webhook.post_json(url, {"alert_id": alert_id, **alert.as_json()})
            except webhook.WebhookError as error:
                log.warning("%s; will retry", error)
                break
            store.mark_delivered(connection, alert_id)
    return [alert for _, alert in new]
