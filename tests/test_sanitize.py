"""The PII sanitizer: a corpus of texts that must change (exactly so) and texts that must not."""

from __future__ import annotations

import pytest

from orchestration.privacy.sanitize import RULES, sanitize_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

# (rule exercised, input, expected output)
POSITIVES = [
    ("email", "contact ada@example.com", "contact <email>"),
    ("email", "ada.lovelace+wh@mail.example.co.uk wrote it", "<email> wrote it"),
    ("email", "(bob_99@example.org)", "(<email>)"),
    ("email", "to: a@b.io, c@d.io.", "to: <email>, <email>."),
    ("email", "git clone git@github.com:org/repo.git", "git clone <email>:org/repo.git"),
    ("openai_key", "key sk-abcdefghijklmnopqrstuvwx1234 leaked", "key <openai_key> leaked"),
    ("openai_key", "API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz", "API_KEY=<openai_key>"),
    ("openai_key", '"sk-svcacct-0123456789abcdefghijKLMN"', '"<openai_key>"'),
    ("github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "<github_token>"),
    ("github_token", "token=gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "token=<github_token>"),
    ("github_token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "<github_token>"),
    ("github_token", "use ghs_0123456789abcdefghijABCDEFGHIJ12 here", "use <github_token> here"),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE", "<aws_key>"),
    ("aws_access_key", "key_id = ASIAY34FZKBOKMUTVV7A;", "key_id = <aws_key>;"),
    ("slack_token", "xoxb-1234567890-0987654321-AbCdEfGh", "<slack_token>"),
    ("slack_token", "hook used xoxp-11111111111-abcdef end", "hook used <slack_token> end"),
    ("jwt", f"Cookie: session={JWT}", "Cookie: session=<jwt>"),
    ("jwt", f"{JWT}", "<jwt>"),
    ("bearer_token", "Authorization: Bearer abc123DEF456ghi789", "Authorization: Bearer <token>"),
    ("bearer_token", "header bearer a1b2c3d4e5f6g7h8==", "header bearer <token>"),
    ("bearer_token", f"Authorization: Bearer {JWT}", "Authorization: Bearer <jwt>"),
    ("ipv4", "connect to 10.0.0.12 failed", "connect to <ipv4> failed"),
    ("ipv4", "from 192.168.1.254:8080", "from <ipv4>:8080"),
    ("ipv4", "hosts 8.8.8.8,1.1.1.1", "hosts <ipv4>,<ipv4>"),
    ("ipv4", "at 12:30:45 from 172.16.0.1.", "at 12:30:45 from <ipv4>."),
    ("ipv6", "bind 2001:db8::8a2e:370:7334 failed", "bind <ipv6> failed"),
    ("ipv6", "listen on ::1", "listen on <ipv6>"),
    ("ipv6", "fe80::1%eth0 is link-local", "<ipv6> is link-local"),
    ("ipv6", "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full <ipv6>"),
    ("ipv6", "mapped ::ffff:10.0.0.1", "mapped <ipv6>"),
    ("phone", "call +1 (555) 123-4567 now", "call <phone> now"),
    ("phone", "office +44 20 7946 0958", "office <phone>"),
    ("phone", "+49-30-123456", "<phone>"),
    ("phone", "cell (555) 123-4567", "cell <phone>"),
    ("phone", "fax 555-123-4567.", "fax <phone>."),
    ("phone", "555.123.4567", "<phone>"),
    ("home_path", "open /home/alice/proj/app.py", "open <home>/proj/app.py"),
    ("home_path", 'File "/Users/bob/src/x.py", line 3', 'File "<home>/src/x.py", line 3'),
    ("home_path", r"C:\Users\carol\repo\main.ts", r"<home>\repo\main.ts"),
    ("home_path", "cat ~dave/.bashrc", "cat <home>/.bashrc"),
    ("home_path", "cd /root/.ssh", "cd <home>/.ssh"),
    (
        "email",
        "user ada@example.com on 10.1.2.3 with sk-abcdefghijklmnopqrstuvwx1234",
        "user <email> on <ipv4> with <openai_key>",
    ),
]

NEGATIVES = [
    "fix the flaky login test",
    "refactor skip_list and task-runner modules",
    "rename risky-sk-abcdefghijklmnopqrstuvwxyz helper",
    "ghost_user handling in auth",
    "AKIAB is too short to be a key",
    "self.email_address = form.email",
    "user@ without a domain",
    "foo@bar has no top-level domain",
    "std::vector<int> and a::b and Foo::bar()",
    "meeting at 12:30:45 UTC",
    "timestamp 2026-03-01T10:00:00Z",
    "released on 2026-01-15",
    "bump to version 1.2.3",
    "line 42, port 5432, pid 1234567",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "mac 00:1a:2b:3c:4d:5e",
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "colour #ff8800 and #abc",
    "retry 10-20 times",
    "see https://example.com/docs/guide",
    "select * from users where id = 1",
    "Traceback (most recent call last): ValueError: bad value",
    "path /var/log/app.log and ./src/home.ts",
    "the homepage at /homepage/index.html",
    "ratio 3.14159 and 2.71828",
    "bearer of bad news",
    "range 0..255 and 1.2",
    "+1 vote from the team",
    "",
    "xoxo thanks",
    "eyJ alone is not a token",
]


@pytest.mark.parametrize(("rule", "text", "expected"), POSITIVES)
def test_findings_become_typed_placeholders(rule, text, expected):
    assert sanitize_text(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_is_left_alone(text):
    assert sanitize_text(text) == text


def test_none_stays_none():
    assert sanitize_text(None) is None


@pytest.mark.parametrize("text", [text for _, text, _ in POSITIVES] + NEGATIVES)
def test_sanitizing_twice_changes_nothing_more(text):
    once = sanitize_text(text)
    assert sanitize_text(once) == once


def test_every_rule_has_a_positive_case():
    assert {rule.name for rule in RULES} == {rule for rule, _, _ in POSITIVES}


def test_corpus_is_large_enough():
    assert len(POSITIVES) >= 40
    assert len(NEGATIVES) >= 30
