"""Remove personal data and secrets from free text before it is stored.

The platform's free text (``task_description``, ``error_message``) can carry what developers
paste: e-mail addresses, API keys and tokens, IP addresses, phone numbers, home-directory paths.
``sanitize_text`` replaces each finding with a typed placeholder (``<email>``, ``<openai_key>``,
...), so the text stays readable and it is still visible *that* something was removed. Ordinary
code words are left alone: each pattern is anchored so that identifiers such as ``skip_list``,
``task-runner``, ``std::vector`` or times like ``12:30:45`` do not match, and IP candidates are
checked with :mod:`ipaddress`.

All rules run as one combined regular expression in a single pass: the leftmost finding wins and,
at the same position, the earlier rule in ``RULES``. A placeholder never matches any rule, so the
function is idempotent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

_NOT_TOKEN_BEFORE = r"(?<![A-Za-z0-9_-])"
_NOT_TOKEN_AFTER = r"(?![A-Za-z0-9_-])"


def _is_ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


def _is_ipv6(candidate: str) -> bool:
    """A valid IPv6 address that does not look like code (``a::b``, ``::``) or a time."""
    address = candidate.split("%", 1)[0]
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    groups = [group for group in re.split(r":+", address) if group]
    if address == "::1":
        return True
    if "::" not in address:
        return len(groups) >= 6  # the full form (or IPv4-embedded)
    return any(len(group) >= 3 for group in groups)  # compressed form, e.g. fe80::1


def _phone_digits_ok(candidate: str) -> bool:
    digits = sum(character.isdigit() for character in candidate)
    return 8 <= digits <= 15


@dataclass(frozen=True)
class Rule:
    """One kind of finding: a pattern, its placeholder, and an optional check of the match."""

    name: str
    pattern: str
    placeholder: str
    is_finding: Callable[[str], bool] | None = None
    keep_prefix_group: bool = False  # keep group 1 (e.g. the word "Bearer") before the placeholder


RULES: tuple[Rule, ...] = (
    Rule("jwt", r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
         "<jwt>"),
    Rule("bearer_token", r"\b([Bb][Ee][Aa][Rr][Ee][Rr])\s+(?!eyJ)[A-Za-z0-9\-._~+/]{8,}=*",
         "<token>", keep_prefix_group=True),
    Rule("openai_key", _NOT_TOKEN_BEFORE + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
         "<openai_key>"),
    Rule("github_token",
         r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
         "<github_token>"),
    Rule("aws_access_key", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
         "<aws_key>"),
    Rule("slack_token", r"(?<![A-Za-z0-9])xox[abeprs]-[A-Za-z0-9-]{10,}", "<slack_token>"),
    Rule("email",
         r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
         r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])",
         "<email>"),
    Rule("home_path",
         r"(?<![\w.~/-])(?:/(?:home|Users)/[^/\s'\"<>:;,]+|/root(?=[/\s'\")]|$)"
         r"|[A-Za-z]:\\Users\\[^\\\s'\"<>:;,]+|~[A-Za-z_][A-Za-z0-9_.-]*(?=/))",
         "<home>"),
    Rule("ipv6",
         r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
         r"(?:%[A-Za-z0-9]+)?(?![\w:])",
         "<ipv6>", is_finding=_is_ipv6),
    Rule("ipv4", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)", "<ipv4>",
         is_finding=_is_ipv4),
    Rule("phone",
         r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])"
         r"|(?<![\w(-])(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}[-.]\d{4}(?![\w-])",
         "<phone>", is_finding=_phone_digits_ok),
)  # fmt: skip

_COMBINED = re.compile("|".join(f"(?P<{rule.name}>{rule.pattern})" for rule in RULES))
_RULES_BY_NAME = {rule.name: rule for rule in RULES}
# Text without any of these characters or prefixes cannot hold a finding (fast path).
_MAY_CONTAIN_FINDING = re.compile(
    r"[@:/\\~]|\d\.\d|\d{3}[-.]\d|\(\d{3}\)|\+\d"
    r"|eyJ|sk-|xox|gh[pousr]_|github_pat_|AKIA|ASIA|[Ee][Aa][Rr][Ee][Rr]"
)


def _replace(match: re.Match[str]) -> str:
    rule = _RULES_BY_NAME[match.lastgroup]
    found = match.group(match.lastgroup)
    if rule.is_finding is not None and not rule.is_finding(found):
        return found
    if rule.keep_prefix_group:
        prefix = match.group(match.re.groupindex[rule.name] + 1)
        return f"{prefix} {rule.placeholder}"
    return rule.placeholder


def sanitize_text(text: str | None) -> str | None:
    """Return ``text`` with every finding replaced by its placeholder (None stays None)."""
    if not text or not _MAY_CONTAIN_FINDING.search(text):
        return text
    return _COMBINED.sub(_replace, text)
