"""The PII sanitizer: a corpus of texts that must change (exactly so) and texts that must not."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from warehouse.privacy.sanitize import (
    MAY_HOLD_FINDING,
    RULES,
    _may_contain_finding,
    sanitize_text,
    sanitize_with_kinds,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
RULES_BY_NAME = {rule.name: rule for rule in RULES}
# Made-up keys of the real shapes (none of them is or was a live credential).
RSA_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA7bq98K3Ks1lqF0c2Xx9vTnYp4Qw8L0aZ3mR6uV1eK2dH5sJ7\n"
    "q4S+Jt9qK5e0Dw/3nB8vC1xZ6mN0pL4rT7yU2iO9aS5dF3gH8jK1lQ==\n"
    "-----END RSA PRIVATE KEY-----"
)
EC_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oQfuz8W2ZPaA\n"
    "-----END EC PRIVATE KEY-----"
)
OPENSSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
# A service-account JSON pasted into a description: the key's newlines are escaped.
PKCS8_ESCAPED = (
    '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n", '
    '"client_email": "svc@proj.iam.gserviceaccount.com"}'
)
GOOGLE_KEY = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# (rule exercised, input, expected output)
POSITIVES = [
    ("email", "contact ada@example.com", "contact <email>"),
    ("email", "ada.lovelace+wh@mail.example.co.uk wrote it", "<email> wrote it"),
    ("email", "(bob_99@example.org)", "(<email>)"),
    ("email", "to: a@b.io, c@d.io.", "to: <email>, <email>."),
    ("email", "git clone git@github.com:org/repo.git", "git clone <email>:org/repo.git"),
    ("email", "mailto:Grace.Hopper@Navy.MIL;", "mailto:<email>;"),
    ("email", '{"owner": "ops-team@corp.example.com"}', '{"owner": "<email>"}'),
    ("openai_key", "key sk-abcdefghijklmnopqrstuvwx1234 leaked", "key <openai_key> leaked"),
    ("openai_key", "API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz", "API_KEY=<openai_key>"),
    ("openai_key", '"sk-svcacct-0123456789abcdefghijKLMN"', '"<openai_key>"'),
    ("openai_key", "; repro key sk-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d", "; repro key <openai_key>"),
    ("github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "<github_token>"),
    ("github_token", "token=gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "token=<github_token>"),
    ("github_token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "<github_token>"),
    ("github_token", "use ghs_0123456789abcdefghijABCDEFGHIJ12 here", "use <github_token> here"),
    ("github_token", "(ghu_aaaaaaaaaabbbbbbbbbbcccccccccc123456)", "(<github_token>)"),
    ("github_token", "refresh ghr_0123456789012345678901234567890123", "refresh <github_token>"),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE", "<aws_key>"),
    ("aws_access_key", "key_id = ASIAY34FZKBOKMUTVV7A;", "key_id = <aws_key>;"),
    ("slack_token", "xoxb-1234567890-0987654321-AbCdEfGh", "<slack_token>"),
    ("slack_token", "hook used xoxp-11111111111-abcdef end", "hook used <slack_token> end"),
    ("slack_token", "SLACK_TOKEN=xoxa-2-1234567890-abcdef", "SLACK_TOKEN=<slack_token>"),
    ("jwt", f"Cookie: session={JWT}", "Cookie: session=<jwt>"),
    ("jwt", JWT, "<jwt>"),
    ("jwt", f"token {JWT}.", "token <jwt>."),
    ("jwt", f"Authorization: Bearer {JWT}", "Authorization: Bearer <jwt>"),
    ("bearer_token", "Authorization: Bearer abc123DEF456ghi789", "Authorization: Bearer <token>"),
    ("bearer_token", "header bearer a1b2c3d4e5f6g7h8==", "header bearer <token>"),
    ("bearer_token", "BEARER ya29.A0ARrdaM-xyz_123", "BEARER <token>"),
    (
        "url_credentials",
        "postgresql://alice:s3cret@db.internal:5432/wh",
        "postgresql://<credentials>@db.internal:5432/wh",
    ),
    (
        "url_credentials",
        "clone https://bob:pa55word@git.example.com/x.git",
        "clone https://<credentials>@git.example.com/x.git",
    ),
    ("ipv4", "connect to 10.0.0.12 failed", "connect to <ipv4> failed"),
    ("ipv4", "from 192.168.1.254:8080", "from <ipv4>:8080"),
    ("ipv4", "hosts 8.8.8.8,1.1.1.1", "hosts <ipv4>,<ipv4>"),
    ("ipv4", "at 12:30:45 from 172.16.0.1.", "at 12:30:45 from <ipv4>."),
    ("ipv4", "GET http://10.0.0.5/health", "GET http://<ipv4>/health"),
    ("ipv4", "255.255.255.255", "<ipv4>"),
    ("ipv6", "bind 2001:db8::8a2e:370:7334 failed", "bind <ipv6> failed"),
    ("ipv6", "listen on ::1", "listen on <ipv6>"),
    ("ipv6", "fe80::1%eth0 is link-local", "<ipv6> is link-local"),
    ("ipv6", "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full <ipv6>"),
    ("ipv6", "mapped ::ffff:10.0.0.1", "mapped <ipv6>"),
    ("ipv6", "http://[2001:db8::1]:8080/", "http://[<ipv6>]:8080/"),
    ("phone", "call +1 (555) 123-4567 now", "call <phone> now"),
    ("phone", "office +44 20 7946 0958", "office <phone>"),
    ("phone", "+49-30-123456", "<phone>"),
    ("phone", "cell (555) 123-4567", "cell <phone>"),
    ("phone", "fax 555-123-4567.", "fax <phone>."),
    ("phone", "555.123.4567", "<phone>"),
    ("phone", "tel:+33 6 12 34 56 78,", "tel:<phone>,"),
    ("phone", "hotline 1-800-555-0199", "hotline <phone>"),
    ("home_path", "open /home/alice/proj/app.py", "open <home>/proj/app.py"),
    ("home_path", 'File "/Users/bob/src/x.py", line 3', 'File "<home>/src/x.py", line 3'),
    ("home_path", r"C:\Users\carol\repo\main.ts", r"<home>\repo\main.ts"),
    ("home_path", r"C:\Users\Jane Doe\AppData\log.txt", r"<home>\AppData\log.txt"),
    ("home_path", "cat ~dave/.bashrc", "cat <home>/.bashrc"),
    ("home_path", "cd /root/.ssh", "cd <home>/.ssh"),
    ("home_path", "Crash, see /home/ada/src/app.py", "Crash, see <home>/src/app.py"),
    ("home_path", "file:///home/alice/notes.md", "file://<home>/notes.md"),
    ("home_path", "(in /home/alice)", "(in <home>)"),
    (
        "email",
        "user ada@example.com on 10.1.2.3 with sk-abcdefghijklmnopqrstuvwx1234",
        "user <email> on <ipv4> with <openai_key>",
    ),
    (
        "phone",
        "ada@example.com at 10.0.0.1, Bearer abc123def456ghi, +1 555 123 4567",
        "<email> at <ipv4>, Bearer <token>, <phone>",
    ),
    (
        "home_path",
        "/Users/bob/.aws/credentials has AKIAIOSFODNN7EXAMPLE",
        "<home>/.aws/credentials has <aws_key>",
    ),
    (
        "private_key",
        f"ssh failed with {RSA_KEY} (bad perms)",
        "ssh failed with <private_key> (bad perms)",
    ),
    ("private_key", f"key:\n{EC_KEY}\nthen retry", "key:\n<private_key>\nthen retry"),
    ("private_key", f"deploy key {OPENSSH_KEY}rejected", "deploy key <private_key>\nrejected"),
    (
        "private_key",
        PKCS8_ESCAPED,
        '{"type": "service_account", "private_key": "<private_key>", "client_email": "<email>"}',
    ),
    (
        "private_key",
        "truncated: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "truncated: <private_key>",
    ),
    (
        "private_key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHz\n-----END ENCRYPTED PRIVATE KEY-----",
        "<private_key>",
    ),
    (
        "google_api_key",
        f"maps call with key={GOOGLE_KEY}&q=x",
        "maps call with key=<google_api_key>&q=x",
    ),
    ("google_api_key", f"GOOGLE_API_KEY {GOOGLE_KEY}.", "GOOGLE_API_KEY <google_api_key>."),
    ("gitlab_token", "clone with glpat-AbCdEf1234567890xYzW", "clone with <gitlab_token>"),
    ("gitlab_token", "CI_TOKEN=glrt-t1_aBcDeFgHiJkLmNoPqRsTu", "CI_TOKEN=<gitlab_token>"),
    ("gitlab_token", "(gldt-0123456789abcdefABCD)", "(<gitlab_token>)"),
    (
        "stripe_key",
        "charge failed for sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "charge failed for <stripe_key>",
    ),
    ("stripe_key", "rk_live_51H8xYzAbCdEfGhIjKlMnOpQr in logs", "<stripe_key> in logs"),
    ("stripe_key", "test key sk_test_51AbCdEf0123456789", "test key <stripe_key>"),
    (
        "aws_access_key",
        "role ABIAZ2Q3R4S5T6U7V8W9 and ACCAZ2Q3R4S5T6U7V8W9",
        "role <aws_key> and <aws_key>",
    ),
    (
        "aws_secret_key",
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
        "export AWS_SECRET_ACCESS_KEY=<aws_secret_key>",
    ),
    (
        "aws_secret_key",
        f'{{"SecretAccessKey": "{AWS_SECRET}"}}',
        '{"SecretAccessKey": "<aws_secret_key>"}',
    ),
    (
        "aws_secret_key",
        f"aws_secret_access_key = {AWS_SECRET}\n",
        "aws_secret_access_key = <aws_secret_key>\n",
    ),
    ("secret_assignment", "login failed: password=hunter2", "login failed: password=<secret>"),
    (
        "secret_assignment",
        "password: hunter2 (from the wiki)",
        "password: <secret> (from the wiki)",
    ),
    ("secret_assignment", "Password: Tr0ub4dor&3", "Password: <secret>"),
    ("secret_assignment", "secret: 8f3kQz, rotate it", "secret: <secret>, rotate it"),
    ("secret_assignment", "secret=letmein", "secret=<secret>"),
    ("secret_assignment", "api_key=abc123XYZ&page=2", "api_key=<secret>&page=2"),
    ("secret_assignment", 'DB_PASSWORD="correct horse battery"', 'DB_PASSWORD="<secret>"'),
    ("secret_assignment", "{'client_secret': 'x9!y8@z7'}", "{'client_secret': '<secret>'}"),
    (
        "secret_assignment",
        'payload {\\"password\\": \\"s3cr3t\\"}',
        'payload {\\"password\\": \\"<secret>\\"}',
    ),
    ("secret_assignment", "x-api-key: 0a1b2c3d4e5f", "x-api-key: <secret>"),
    ("secret_assignment", "accessToken=ya29.abc123.", "accessToken=<secret>."),
    ("secret_assignment", "(passwd=hunter2)", "(passwd=<secret>)"),
    ("secret_assignment", 'if password == "abc1":', 'if password == "<secret>":'),
    ("secret_assignment", 'password := "p4ss"', 'password := "<secret>"'),
    ("secret_assignment", "secret_key_base: a1b2c3d4e5", "secret_key_base: <secret>"),
    (
        "secret_assignment",
        "spring.datasource.password=Sup3r",
        "spring.datasource.password=<secret>",
    ),
    ("openai_key", "API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz", "API_KEY=<openai_key>"),
    ("jwt", f"access_token={JWT}", "access_token=<jwt>"),
]

NEGATIVES = [
    "fix the flaky login test",
    "refactor skip_list and task-runner modules",
    "rename risky-sk-abcdefghijklmnopqrstuvwxyz helper",
    "sk-learn-style-kebab-component-name",
    "ghost_user handling in auth",
    "AKIAB is too short to be a key",
    "xoxb-placeholder-token-goes-here",
    "xoxo thanks",
    "eyJ alone is not a token",
    "self.email_address = form.email",
    "user@ without a domain",
    "foo@bar has no top-level domain",
    "ssh deploy@localhost",
    "pip install pkg@1.2.3 and @types/node",
    "decorator @pytest.fixture(scope='session')",
    "std::vector<int> and a::b and Foo::bar()",
    "dead::beef and std::chrono::seconds(30)",
    "reverse with x[::-1]",
    "meeting at 12:30:45 UTC",
    "timestamp 2026-03-01T10:00:00Z",
    "offset 2026-03-01T10:00:00+01:00",
    "Date: Mon, 01 Jan 2026 10:00:00 +0100",
    "released on 2026-01-15",
    "bump to version 1.2.3 (v1.2.3.4 internally)",
    "300.1.1.1 and 01.02.03.04 are not addresses",
    "line 42, port 5432, pid 1234567",
    "1,234,567 rows in 0.25 s",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "mac 00:1a:2b:3c:4d:5e",
    "eui-64 00:1a:2b:3c:4d:5e:6f:70",
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "pointer 0x7fff5fbff8a8 and commit a1b2c3d",
    "colour #ff8800 and #abc",
    "retry 10-20 times",
    "TASK-0001234 and PR #4567",
    "see https://example.com/docs/guide",
    "redis://localhost:6379/0",
    "https://example.com/home/alice/page",
    "select * from users where id = 1",
    "Traceback (most recent call last): ValueError: bad value",
    "path /var/log/app.log and ./src/home.ts",
    "the homepage at /homepage/index.html",
    "cd ~/proj && make",
    "ratio 3.14159 and 2.71828",
    "bearer of bad news",
    "Bearer authentication failed",
    "bearer token-based auth",
    "range 0..255 and 1.2",
    "+1 vote from the team, score +12",
    "Generated patch failed to compile: billing.ts line 42",
    "Context window exceeded (128000 tokens)",
    "Provider returned 429 Too Many Requests",
    "",
    "password reset flow",
    "fix the password reset flow: send one e-mail",
    "reset your password: must be at least 12 characters",
    "forgot-password page and password_reset=true",
    "login with the secret sauce",
    "User is not authorized to perform: secretsmanager:GetSecretValue",
    "api_key: str = Field(...)",
    "password=<secret> and api_key: <secret>",  # sanitized before
    "git sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "merge 1f3e5a7 into main at 4b0c2d9e8f1a3c5e7b9d0f2a4c6e8b0d2f4a6c8e",
    "request 6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b and 00000000-0000-0000-0000-000000000000",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "the PRIVATE KEY must not be committed",
    "AIza is the prefix of a Google key",
    "sk_live_mode_enabled and rk_test_suite",
    "glpat-placeholder-token-goes-here",
    "40 characters: 0123456789012345678901234567890123456789",
    "aws_region=us-east-1",
]


@pytest.mark.parametrize(("rule", "text", "expected"), POSITIVES)
def test_findings_become_typed_placeholders(rule: str, text: str, expected: str) -> None:
    assert RULES_BY_NAME[rule].placeholder in expected  # the case exercises the rule it names
    assert sanitize_text(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert sanitize_text(text) == text


def test_none_stays_none() -> None:
    assert sanitize_text(None) is None


@pytest.mark.parametrize("text", [text for _, text, _ in POSITIVES] + NEGATIVES)
def test_sanitizing_twice_changes_nothing_more(text: str) -> None:
    once = sanitize_text(text)
    assert sanitize_text(once) == once


@pytest.mark.parametrize(("rule", "text", "expected"), POSITIVES)
def test_trigger_lets_findings_through(rule: str, text: str, expected: str) -> None:
    """The cheap per-rule pre-check must never skip a text that holds a finding."""
    checked = RULES_BY_NAME[rule]
    assert checked.trigger(text.lower() if checked.trigger_on_lowered else text)


def test_every_rule_has_a_positive_case() -> None:
    assert set(RULES_BY_NAME) == {rule for rule, _, _ in POSITIVES}


def test_rules_are_documented_and_distinct() -> None:
    assert len(RULES_BY_NAME) == len(RULES)
    for rule in RULES:
        assert rule.placeholder.startswith("<")
        assert rule.placeholder.endswith(">")
        assert rule.description
        assert rule.pattern.search(rule.placeholder) is None  # a placeholder is never re-matched


def test_corpus_is_large_enough() -> None:
    assert len(POSITIVES) >= 40
    assert len(NEGATIVES) >= 30


def test_the_kinds_are_reported_one_per_finding() -> None:
    text = (
        f"user ada@example.com, password=hunter2, key {GOOGLE_KEY}, API_KEY=sk-proj-"
        "AbCdEfGhIjKlMnOpQrStUvWx_yz, bob@example.org"
    )
    sanitized, kinds = sanitize_with_kinds(text)
    assert sanitized == (
        "user <email>, password=<secret>, key <google_api_key>, API_KEY=<openai_key>, <email>"
    )
    assert kinds == ["email", "secret_assignment", "google_api_key", "openai_key", "email"]
    assert sanitize_with_kinds(sanitized) == (sanitized, [])
    assert sanitize_with_kinds("plain prose") == ("plain prose", [])
    assert sanitize_with_kinds(None) == (None, [])


def test_the_prefilter_lets_every_positive_through() -> None:
    """The one-pattern prefilter the loader's column-wise path uses (RE2) and the sanitizer's
    own agree on every case above."""
    texts = [text for _, text, _ in POSITIVES] + NEGATIVES
    matched = pc.match_substring_regex(pa.array(texts), MAY_HOLD_FINDING).to_pylist()
    for text, match in zip(texts, matched, strict=True):
        assert match or not _may_contain_finding(text), text
    for _, text, _ in POSITIVES:
        assert _may_contain_finding(text), text
