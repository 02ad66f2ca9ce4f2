"""Alert delivery to the channels people read, through Apprise: Slack, Microsoft Teams, e-mail,
generic JSON and the many others Apprise knows (docs/operations.md).

``ALERT_URLS`` holds one or more Apprise URLs (separated by spaces, commas or new lines), for
example ``slack://T000/B000/XXXX``, ``msteams://...``, ``mailtos://user:pass@smtp.example.com``
or ``json://alerts.example.com/hook``. The URLs carry secrets: they are never logged, and a
channel is known in the database only by a digest of its URL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import apprise

from warehouse.alerting.rules import Alert

NOTIFY_TYPES = {
    "info": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}


class ChannelError(ValueError):
    """An ALERT_URLS entry Apprise cannot use; the message names it without its secrets."""


@dataclass(frozen=True)
class Channel:
    """One Apprise URL: ``key`` identifies it in monitoring.alert_deliveries (a digest, never the
    URL), ``label`` names it in logs (scheme and host only)."""

    url: str

    @property
    def key(self) -> str:
        return "apprise:" + hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def label(self) -> str:
        match = re.match(r"^([a-z0-9+.-]+)://(?:[^@/]*@)?([^/:?]*)", self.url, re.IGNORECASE)
        return f"{match.group(1)}://{match.group(2)}" if match else "an alert URL"


def parse_urls(text: str) -> list[Channel]:
    """The channels of an ALERT_URLS value; an entry Apprise does not recognize is an error."""
    channels = []
    for url in (part for part in re.split(r"[\s,]+", text or "") if part):
        channel = Channel(url)
        if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
            raise ChannelError(
                f"ALERT_URLS: {channel.label} is not an Apprise URL this version supports "
                "(see https://appriseit.com for the formats: slack://, msteams://, mailto://, "
                "json://, ...)"
            )
        channels.append(channel)
    return channels


def title(alert: Alert) -> str:
    return f"[{alert.severity}] {alert.rule}: {alert.subject}"


def body(alert: Alert) -> str:
    lines = [alert.message, "", f"date: {alert.alert_date.isoformat()}"]
    lines += [f"{name}: {value}" for name, value in sorted(alert.details.items())]
    return "\n".join(lines)


def send(
    channel: Channel,
    subject: str,
    text: str,
    *,
    notify_type: str = apprise.NotifyType.INFO,
    attachments: list[Path] | None = None,
) -> bool:
    """Deliver one message to one channel; False when the channel did not accept it."""
    notifier = apprise.Apprise()
    notifier.add(channel.url)
    attach = apprise.AppriseAttachment([str(path) for path in attachments or []]) or None
    return bool(notifier.notify(body=text, title=subject, notify_type=notify_type, attach=attach))


def send_alert(channel: Channel, alert: Alert) -> bool:
    return send(channel, title(alert), body(alert), notify_type=NOTIFY_TYPES[alert.severity])
