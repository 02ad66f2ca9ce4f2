"""Alert delivery through Apprise (ALERT_URLS) to a local HTTP server and a local SMTP server,
both started here on 127.0.0.1: the payloads, once per channel, retries, and no secret in logs."""

from __future__ import annotations

import email
import json
import logging
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warehouse.alerting.channels import ChannelError, parse_urls
from warehouse.alerting.publish import publish
from warehouse.alerting.rules import Alert

ALERT = Alert(
    "budget_spent_80", "warning", "organization 0000000a", date(2026, 11, 1),
    "organization 0000000a has spent $90.00 of its $100.00 budget for 2026-11 (90.00 %)",
    {"budget_usd": "100.00"},
)  # fmt: skip
INFO = Alert("negative_savings", "info", "task_executions", date(2026, 11, 2), "3 tasks", {})


@contextmanager
def http_server(statuses: list[int]) -> Iterator[tuple[int, list[dict]]]:
    """A JSON endpoint on 127.0.0.1 answering each POST with the next of ``statuses`` (then
    200); yields its port and the bodies it received."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[email.message.Message]]]:
    """A plain SMTP server on 127.0.0.1 (no TLS, no authentication) keeping each message."""
    received: list[email.message.Message] = []

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self) -> None:
            self.reply("220 localhost ESMTP test")
            while line := self.rfile.readline().decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.reply("250-localhost")
                    self.reply("250 8BITMIME")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                        lines.append(data[1:] if data.startswith("..") else data)
                    received.append(email.message_from_string("".join(lines)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=ops@example.com&mode=insecure"


def test_alerts_reach_a_json_endpoint_and_a_mailbox_once(connection):
    with http_server([]) as (http_port, posts), smtp_server() as (smtp_port, mails):
        channels = parse_urls(f"json://127.0.0.1:{http_port}/alerts, {mail_url(smtp_port)}")
        log = logging.getLogger("test.alerts")

        publish(connection, [ALERT, INFO], log=log, alert_urls=channels)
        publish(connection, [ALERT, INFO], log=log, alert_urls=channels)

    (post,) = posts  # the info alert is below the default minimum severity (warning)
    assert (post["title"], post["type"]) == (
        "[warning] budget_spent_80: organization 0000000a", "warning"
    )  # fmt: skip
    assert post["message"] == (f"{ALERT.message}\n\ndate: 2026-11-01\nbudget_usd: 100.00")
    (mail,) = mails
    assert str(make_header(decode_header(mail["Subject"]))) == (
        "[warning] budget_spent_80: organization 0000000a"
    )
    assert mail["To"] == "ops@example.com"
    text = mail.get_payload(decode=True) if not mail.is_multipart() else (
        mail.get_payload()[0].get_payload(decode=True)
    )  # fmt: skip
    assert ALERT.message in text.decode()
    assert connection.execute("select count(*) from monitoring.alert_deliveries").fetchone() == (2,)


def test_a_failing_channel_is_retried_and_holds_no_other_up(connection, caplog):
    with http_server([500]) as (failing_port, failed_posts), smtp_server() as (smtp_port, mails):
        secret_url = f"json://user:s3cret@127.0.0.1:{failing_port}/token-abc"
        channels = parse_urls(f"{secret_url} {mail_url(smtp_port)}")
        log = logging.getLogger("test.alerts.retry")
        alert = Alert("job_failed", "critical", "daily_build", date(2026, 11, 3), "failed", {})

        with caplog.at_level(logging.WARNING, logger="test.alerts.retry"):
            publish(connection, [alert], log=log, alert_urls=channels)
        assert (len(failed_posts), len(mails)) == (1, 1)
        publish(connection, [alert], log=log, alert_urls=channels)  # retried: 200 now

    assert (len(failed_posts), len(mails)) == (2, 1)
    assert failed_posts[1]["type"] == "failure"
    warnings = [record.getMessage() for record in caplog.records]
    assert any("json://127.0.0.1 did not accept alert" in line for line in warnings)
    assert not any("s3cret" in line or "token-abc" in line for line in warnings)


def test_urls_apprise_does_not_know_are_refused_without_their_secrets():
    with pytest.raises(ChannelError) as error:
        parse_urls("json://127.0.0.1/ok nosuchscheme://user:s3cret@host/path")
    assert str(error.value).startswith(
        "ALERT_URLS: nosuchscheme://host is not an Apprise URL this version supports"
    )
    assert "s3cret" not in str(error.value)
    assert parse_urls("") == []
