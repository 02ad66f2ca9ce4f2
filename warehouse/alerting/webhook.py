"""Posting an alert as JSON to a webhook URL (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10


class WebhookError(RuntimeError):
    pass


def redacted(url: str) -> str:
    """The URL without credentials, path or query (they often carry the webhook's secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def post_json(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise WebhookError(f"alert webhook {redacted(url)} failed: {reason}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"alert webhook {redacted(url)} answered HTTP {status}")
