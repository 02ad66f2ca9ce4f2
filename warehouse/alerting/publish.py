"""Raising alerts: record each once, log it, and deliver it: to the JSON webhook when one is set,
and to each Apprise channel of ALERT_URLS (Slack, Teams, e-mail, ...)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from warehouse.alerting import channels, store, webhook
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
    alert_urls: Sequence[channels.Channel] = (),
) -> list[Alert]:
    """Record the alerts (de-duplicated), log the new ones, deliver the undelivered ones.

    Returns the alerts that were new. With a ``webhook_url``, alerts at or above
    ``min_severity`` are posted to it, and likewise sent to each channel of ``alert_urls``; a
    destination that fails is logged and retried on the next call (for alerts raised in the
    last day), the others are not held up, and the alert itself is never lost.
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"alert min_severity must be one of {SEVERITIES}, not {min_severity!r}")
    new = store.record(connection, alerts)
    for _, alert in new:
        log.log(LOG_LEVELS[alert.severity], "alert %s [%s] %s", alert.rule, alert.severity,
                alert.message)  # fmt: skip
    posted = SEVERITIES[SEVERITIES.index(min_severity) :]
    if webhook_url:
        for alert_id, alert in store.undelivered(connection, severities=posted):
            try:
                webhook.post_json(webhook_url, {"alert_id": alert_id, **alert.as_json()})
            except webhook.WebhookError as error:
                log.warning("%s; will retry", error)
                break
            store.mark_delivered(connection, alert_id)
    for channel in alert_urls:
        for alert_id, alert in store.undelivered_to(connection, channel.key, severities=posted):
            if not channels.send_alert(channel, alert):
                log.warning("alert channel %s did not accept alert %s; will retry",
                            channel.label, alert_id)  # fmt: skip
                break
            store.mark_delivered_to(connection, alert_id, channel.key)
    return [alert for _, alert in new]
