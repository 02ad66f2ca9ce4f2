"""Remove personal data and secrets from free text before it is stored.

The platform's free text (``task_description``, ``error_message``) holds whatever developers
paste: e-mail addresses, API keys and tokens, IP addresses, phone numbers, home-directory paths.
The warehouse has no need for any of them, and storing them would spread personal data and
live credentials into every copy of the database. ``sanitize_text`` replaces each finding with a
typed placeholder, so the text stays readable and it stays visible *what kind* of thing was
removed:

- ``private_key``: a PEM private key block, ``-----BEGIN [RSA |EC |OPENSSH |...]PRIVATE
  KEY-----`` to its ``-----END ...-----`` line (over several lines, or with escaped ``\\n``);
  a block cut off before its END line is replaced to the end of its base64 body
  -> ``<private_key>``
- ``jwt``: JSON Web Tokens (``eyJ...`` and two more base64url segments) -> ``<jwt>``
- ``bearer_token``: the credential after ``Bearer`` (the word and the spacing are kept, any
  case) -> ``Bearer <token>``
- ``openai_key``: ``sk-...``, ``sk-proj-...`` -> ``<openai_key>``
- ``github_token``: ``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``
  -> ``<github_token>``
- ``gitlab_token``: ``glpat-``, ``gldt-``, ``glrt-``, ``glft-``, ``glsoat-``, ``glptt-``,
  ``glcbt-``, ``glimt-``, ``glagent-``, ``gloas-`` and 20 or more characters
  -> ``<gitlab_token>``
- ``google_api_key``: ``AIza`` and 35 base64url characters -> ``<google_api_key>``
- ``stripe_key``: secret and restricted keys, ``sk_live_``, ``rk_live_`` (and their
  ``_test_`` twins) -> ``<stripe_key>``
- ``aws_access_key``: ``AKIA``/``ASIA``/``ABIA``/``ACCA`` and 16 upper-case letters or digits
  -> ``<aws_key>``
- ``slack_token``: ``xoxb-``, ``xoxp-``, ``xoxa-``, ``xoxr-``, ``xoxs-`` -> ``<slack_token>``
- ``url_credentials``: ``user:password`` in ``scheme://user:password@host`` -> ``<credentials>``
- ``aws_secret_key``: the 40-character value assigned to ``aws_secret_access_key``,
  ``AWS_SECRET_KEY``, ``SecretAccessKey``, ... (the name is kept) -> ``<aws_secret_key>``; a
  40-character string without such a name is not replaced (it could be any hash)
- ``secret_assignment``: the value assigned to a name that says it is secret (``password``,
  ``passwd``, ``passphrase``, ``secret``, ``api_key``, ``private_key``, ``access_token``, ...,
  also inside a longer name: ``DB_PASSWORD``, ``client_secret``, ``apiKey``), with ``=``,
  ``:=``, ``=>`` or ``:`` (the name, the sign and any quotes are kept):
  ``password=hunter2`` -> ``password=<secret>``; when the value is a finding of another kind
  as a whole, that kind's placeholder is used (``API_KEY=sk-...`` -> ``API_KEY=<openai_key>``).
  After ``:`` an unquoted value made of lower-case letters only is kept, as prose
  ("password: must be 8 characters"), and so is a value that is a placeholder already.
- ``email``: ``name@domain.tld`` -> ``<email>``
- ``home_path``: the home prefix and user name of ``/home/alice/...``, ``/Users/bob/...``,
  ``C:\\Users\\carol\\...``, ``~dave/...``, ``/root/...`` -> ``<home>`` (the rest of the
  path is kept: ``/home/alice/proj/app.py`` -> ``<home>/proj/app.py``)
- ``ipv6``: full and compressed IPv6 addresses -> ``<ipv6>``
- ``ipv4``: dotted IPv4 addresses (octets 0-255) -> ``<ipv4>``
- ``phone``: ``+<country> ...`` and North-American ``(555) 123-4567``, ``555-123-4567``,
  ``555.123.4567`` -> ``<phone>``

Ordinary code is left alone. Every pattern is anchored so it cannot start or end inside a
longer identifier (``skip_list``, ``risky-sk-...``, ``ghost_user``, ``self.email_address``), and
the ambiguous kinds are checked after matching: IP candidates with :mod:`ipaddress` (so
``std::vector``, ``a::b``, ``12:30:45``, MAC addresses and hashes stay), phone candidates by
their digit count, key candidates by a digit or mixed case (so ``sk-some-kebab-name`` stays).
A string like ``foo@bar`` (no top-level domain) is not an e-mail address here: it is more often
a package pin, a decorator or ``user@host`` of a shell prompt than a mailbox. Judgement calls the
other way (replaced, because they cannot be told apart from a finding): ``git@github.com``, a
four-part version ``1.2.3.4`` with octets <= 255, the slice ``[::1]``, ``~word/`` in prose.

All rules run as one combined regular expression in a single pass, so a placeholder can never be
matched again by a later rule, and no placeholder matches any rule (``sanitize_text`` is
idempotent). The leftmost finding wins; at the same position, the rule listed first in
``RULES``. That order puts tokens before e-mail (a JWT or URL credential containing ``@`` is one
finding), URL credentials before secret assignments (``db://password:pw@host``), the AWS secret
key before the other secret assignments (``aws_secret_access_key=...``) and IPv6 before IPv4
(``::ffff:10.0.0.1`` is one address). A candidate its check rejects (``12:30:45`` as IPv6) is
kept as it is; the text it covers is not searched again.

``sanitize_with_kinds`` also says which kinds it replaced, one name per finding (the loader
counts them per column: ``raw.redaction_counts``, ``monitoring.redactions_daily``).

Speed: the loader calls this on every free-text field (~100k per file). Text that cannot hold a
finding returns after one scan for trigger characters; otherwise each rule's cheap trigger picks
the rules worth running, and only those are combined (the combinations are cached). The
patterns have no nested unbounded repetition; the one that scans ahead is ``private_key``'s,
from a ``-----BEGIN ... PRIVATE KEY-----`` line to its END line (once per BEGIN line).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

# A finding must not start or end inside a longer token (identifier, kebab-case word, key).
_TOKEN_CHARS = r"A-Za-z0-9_-"
# Characters that end a user name inside a path.
_PATH_STOP = r"\s'\"`<>:;,()\[\]{}|*?=&"


Check = Callable[[str], bool]


@dataclass(frozen=True)
class Rule:
    """One kind of finding.

    ``pattern`` finds candidates; ``is_finding`` (optional) confirms a candidate's text;
    ``trigger`` is a cheap test that every text holding a finding passes (False: skip the rule),
    given the text lower-cased when ``trigger_on_lowered`` (computed once for every rule);
    ``keep_group`` names a group at the start of ``pattern`` that is kept as it is, in front of
    the placeholder ("Bearer ", "password="); ``value_group`` names the group after it that
    holds the secret value, when the value may be a finding of another kind as a whole.
    """

    name: str
    pattern: re.Pattern[str]
    placeholder: str
    description: str
    trigger: Check
    is_finding: Check | None = None
    keep_group: str | None = None
    value_group: str | None = None
    trigger_on_lowered: bool = False


def _has_digit(candidate: str) -> bool:
    return any(character.isdigit() for character in candidate)


def _looks_random(candidate: str) -> bool:
    """Has a digit or mixes upper and lower case: a key, not a kebab-case name."""
    mixed_case = candidate != candidate.lower() and candidate != candidate.upper()
    return mixed_case or _has_digit(candidate)


def _is_bearer_token(candidate: str) -> bool:
    """The value after "Bearer" looks like a token, not a word ("Bearer authentication")."""
    token = candidate.split(maxsplit=1)[1]
    return _has_digit(token) or (len(token) >= 16 and _looks_random(token))


def _is_ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:  # an octet above 255, or a leading zero ("01.02.03.04")
        return False
    return True


def _is_ipv6(candidate: str) -> bool:
    """A valid IPv6 address that does not look like code, a time, a MAC address or a hash."""
    address = candidate.split("%", 1)[0]  # zone index, e.g. fe80::1%eth0
    try:
        ipaddress.IPv6Address(address)
    except ValueError:  # times (12:30:45), 6-group MAC addresses, C++ scopes with non-hex
        return False
    if address == "::1":
        return True
    groups = [group for group in re.split(r"[:.]", address) if group]
    if "::" in address:  # compressed: not a hex-word scope like a::b or dead::beef
        return _has_digit(address) and any(len(group) >= 3 for group in groups)
    return not all(len(group) == 2 for group in groups)  # EUI-64 / hex dumps (00:1a:...:70)


def _is_phone(candidate: str) -> bool:
    digits = sum(character.isdigit() for character in candidate)
    return 8 <= digits <= 15  # E.164 allows at most 15 digits


def _has_digit_and_letter(candidate: str) -> bool:
    """A key's random part has digits and letters (``sk_live_`` + a word is not a key)."""
    return _has_digit(candidate) and any(character.isalpha() for character in candidate[8:])


_IPV4_HINT = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
_NANP_HINT = re.compile(r"[.-](?<=\d{3}[.-])\d{4}")  # 123-4567, starting at the separator
_GITHUB_HINT = re.compile(r"gh[pousr]_|github_pat_")
_GITLAB_PREFIXES = ("glpat-", "gldt-", "glrt-", "glft-", "glsoat-", "glptt-", "glcbt-", "glimt-",
                    "glagent-", "gloas-")  # fmt: skip
_GITLAB_HINT = re.compile("|".join(_GITLAB_PREFIXES))
# Names that say their value is secret (any case of ASCII letters; also inside a longer name).
_SECRET_NAME = (
    r"(?:passw(?:or)?d|passphrase|secret|api[_-]?key|private[_-]?key|auth[_-]?key"
    r"|(?:access|auth|refresh|bot|session|api)[_-]?token)"
)
_SECRET_NAME_HINT = re.compile(_SECRET_NAME)  # searched in the lower-cased text
# Characters that end an unquoted value ("&" only before a query parameter); a value after
# ":" must hold one character outside [a-z] (and the closing punctuation ".)]}"), so that
# "password: must be ..." stays as prose.
_VALUE_STOP = r"\s\"'<>,;&\\"
# An unquoted value goes on through "&" unless a query parameter follows ("&page=2").
_UNQUOTED_VALUE = rf"(?:[^{_VALUE_STOP}]|&(?![A-Za-z0-9_.-]+=))+"
_VALUE_AFTER_COLON = rf"(?=[ \t]*(?:\\?[\"']|[^{_VALUE_STOP}]*[^a-z.)\]}}{_VALUE_STOP}]))"


def _may_hold_ipv6(text: str) -> bool:
    # A valid address is compressed (::) or has 7 colons (6 with an embedded IPv4 address).
    return "::" in text or text.count(":") >= 6


def _may_hold_ipv4(text: str) -> bool:
    return text.count(".") >= 3 and _IPV4_HINT.search(text) is not None


def _may_hold_secret_name(lowered: str) -> bool:
    return (
        ("=" in lowered or ":" in lowered)
        and ("pass" in lowered or "secret" in lowered or "key" in lowered or "token" in lowered)
        and _SECRET_NAME_HINT.search(lowered) is not None
    )


def _may_hold_phone(text: str) -> bool:
    return "+" in text or _NANP_HINT.search(text) is not None


_WINDOWS_SEPARATOR = r"(?:\\{1,2}|/)"  # C:\Users, C:\\Users (escaped), C:/Users
_WINDOWS_USER_WORD = rf"[^\\/{_PATH_STOP}]+"
_UNIX_USER = rf"[^/\\{_PATH_STOP}]+"

RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*)"  # cut off before its END line
        ),
        "<private_key>",
        "PEM private key block (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted, PGP)",
        trigger=lambda text: "-----BEGIN" in text,
    ),
    Rule(
        "jwt",
        re.compile(
            rf"(?<![{_TOKEN_CHARS}])eyJ[{_TOKEN_CHARS}]{{5,}}\.[{_TOKEN_CHARS}]{{5,}}"
            rf"\.[{_TOKEN_CHARS}]*"
        ),
        "<jwt>",
        "JSON Web Token: three base64url segments, the first starting eyJ",
        trigger=lambda text: "eyJ" in text,
    ),
    Rule(
        "bearer_token",
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<bearer_word>(?i:bearer)[ \t]+)(?!eyJ)[A-Za-z0-9._~+/-]{8,}=*"
        ),
        "<token>",
        "the credential after 'Bearer' (the word is kept, in any case)",
        trigger=lambda lowered: "bearer" in lowered,
        trigger_on_lowered=True,
        is_finding=_is_bearer_token,
        keep_group="bearer_word",
    ),
    Rule(
        "openai_key",
        re.compile(rf"(?<![{_TOKEN_CHARS}])sk-[{_TOKEN_CHARS}]{{20,}}"),
        "<openai_key>",
        "OpenAI API key: sk-..., sk-proj-...",
        trigger=lambda text: "sk-" in text,
        is_finding=_looks_random,
    ),
    Rule(
        "github_token",
        re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
        "<github_token>",
        "GitHub token: ghp_, gho_, ghu_, ghs_, ghr_, github_pat_",
        trigger=lambda text: _GITHUB_HINT.search(text) is not None,
    ),
    Rule(
        "gitlab_token",
        re.compile(
            rf"(?<![{_TOKEN_CHARS}])(?:{'|'.join(_GITLAB_PREFIXES)})(?:[0-9a-fA-F]{{2}}_)?"
            rf"[{_TOKEN_CHARS}]{{20,}}"
        ),
        "<gitlab_token>",
        "GitLab token: glpat-, gldt-, glrt-, glft-, glsoat-, glptt-, glcbt-, ...",
        trigger=lambda text: "gl" in text and _GITLAB_HINT.search(text) is not None,
        is_finding=_looks_random,
    ),
    Rule(
        "google_api_key",
        re.compile(rf"(?<![{_TOKEN_CHARS}])AIza[{_TOKEN_CHARS}]{{35}}(?![{_TOKEN_CHARS}])"),
        "<google_api_key>",
        "Google API key: AIza and 35 base64url characters",
        trigger=lambda text: "AIza" in text,
    ),
    Rule(
        "stripe_key",
        re.compile(r"(?<![A-Za-z0-9_])[rs]k_(?:live|test)_[0-9A-Za-z]{10,}"),
        "<stripe_key>",
        "Stripe secret or restricted key: sk_live_, rk_live_, sk_test_, rk_test_",
        trigger=lambda text: "k_live_" in text or "k_test_" in text,
        is_finding=_has_digit_and_letter,
    ),
    Rule(
        "aws_access_key",
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        "<aws_key>",
        "AWS access key id: AKIA, ASIA, ABIA or ACCA and 16 upper-case letters or digits",
        trigger=lambda text: "AKIA" in text or "ASIA" in text or "ABIA" in text or "ACCA" in text,
    ),
    Rule(
        "slack_token",
        re.compile(r"(?<![A-Za-z0-9])xox[abeprs]-[A-Za-z0-9-]{10,}"),
        "<slack_token>",
        "Slack token: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-",
        trigger=lambda text: "xox" in text,
        is_finding=_looks_random,
    ),
    Rule(
        "url_credentials",
        re.compile(r"(?<=://)[^\s/@:<>]+(?::[^\s/@<>]*)?(?=@[A-Za-z0-9\[])"),
        "<credentials>",
        "user name and password in a URL (scheme://user:password@host)",
        trigger=lambda text: "://" in text and "@" in text,
    ),
    Rule(
        "aws_secret_key",
        re.compile(
            r"(?P<aws_secret_name>(?<![A-Za-z0-9])"
            r"(?ai:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)"
            r"\\?[\"']?[ \t]*(?::?=|:)[ \t]*\\?[\"']?)"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        "<aws_secret_key>",
        "AWS secret access key: 40 characters assigned to aws_secret_access_key and the like",
        trigger=lambda lowered: "secret" in lowered,
        trigger_on_lowered=True,
        keep_group="aws_secret_name",
    ),
    Rule(
        "secret_assignment",
        re.compile(
            r"(?P<secret_name>(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]*?"
            rf"(?ai:{_SECRET_NAME}(?:[_-]?(?:key[_-]?base|key|token|access[_-]?key))?)"
            rf"\\?[\"']?[ \t]*(?::?={{1,3}}>?|:{_VALUE_AFTER_COLON})[ \t]*(?:\\?[\"'])?)"
            r"(?P<secret_value>(?<=\")(?:[^\"\\\r\n]|\\[^\"'\r\n])+"
            r"|(?<=')(?:[^'\\\r\n]|\\[^\"'\r\n])+"
            rf"|{_UNQUOTED_VALUE})"
        ),
        "<secret>",
        "the value assigned to a secret-sounding name (password=..., api_key: ..., the name kept)",
        trigger=_may_hold_secret_name,
        trigger_on_lowered=True,
        keep_group="secret_name",
        value_group="secret_value",
    ),
    Rule(
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
            r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
        ),
        "<email>",
        "e-mail address with a top-level domain",
        trigger=lambda text: "@" in text,
    ),
    Rule(
        "home_path",
        re.compile(
            r"(?:(?<![\w.~/-])|(?<=file://))(?:"
            rf"(?:/var|/mnt/[a-z])?/(?:home|Users)/{_UNIX_USER}"
            r"|/root(?=[/\\\s'\"`)\]},;:]|$)"
            rf"|[A-Za-z]:{_WINDOWS_SEPARATOR}Users{_WINDOWS_SEPARATOR}{_WINDOWS_USER_WORD}"
            rf"(?:(?: {_WINDOWS_USER_WORD})+(?=[\\/]))?"  # "C:\Users\Jane Doe\": spaces
            r"|~[A-Za-z_][A-Za-z0-9_.-]*(?=/)"
            r")"
        ),
        "<home>",
        "home-directory prefix with the user name (the rest of the path is kept)",
        trigger=lambda text: "/home/" in text or "Users" in text or "/root" in text or "~" in text,
    ),
    Rule(
        "ipv6",
        re.compile(
            r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
            r"(?:%[A-Za-z0-9]+)?(?![\w:])"
        ),
        "<ipv6>",
        "IPv6 address, full or compressed (checked with ipaddress)",
        trigger=_may_hold_ipv6,
        is_finding=_is_ipv6,
    ),
    Rule(
        "ipv4",
        re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)"),
        "<ipv4>",
        "IPv4 address, octets 0-255 (checked with ipaddress)",
        trigger=_may_hold_ipv4,
        is_finding=_is_ipv4,
    ),
    Rule(
        "phone",
        re.compile(
            r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])"
            r"|(?<![\w(+.-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}(?![\w-]|\.\d)"
        ),
        "<phone>",
        "phone number: +<country> ..., (555) 123-4567, 555-123-4567, 555.123.4567",
        trigger=_may_hold_phone,
        is_finding=_is_phone,
    ),
)

_RULES_BY_NAME = {rule.name: rule for rule in RULES}
_RULE_BITS = tuple((1 << index, rule) for index, rule in enumerate(RULES))
_PLACEHOLDERS = frozenset(rule.placeholder for rule in RULES)
# Every finding contains one of these characters or token prefixes (checked by tests).
_SPECIAL_CHARACTER = re.compile(r"[@:/\\~+=0-9]")
_TOKEN_PREFIXES = (
    "eyJ", "sk-", "xox", "gh", "gl", "AKIA", "ASIA", "ABIA", "ACCA", "AIza", "k_live_", "k_test_",
    "-----BEGIN",
)  # fmt: skip
# The same test as one RE2-compatible pattern, for pyarrow (the loader's column-wise path).
MAY_HOLD_FINDING = r"[@:/\\~+=0-9]|" + "|".join(map(re.escape, _TOKEN_PREFIXES)) + "|(?i:bearer)"
# What may follow a placeholder inside a secret value that is one finding of another kind.
_ONLY_SPACING = re.compile(r"(?:\s|\\[nrt])*")
_COMBINED_BY_MASK: dict[int, re.Pattern[str]] = {}


def _may_contain_finding(text: str) -> bool:
    """The fast path: plain prose (no digit, no @ : / \\ ~ + =, no token prefix) has no
    finding."""
    if _SPECIAL_CHARACTER.search(text) is not None:
        return True
    for prefix in _TOKEN_PREFIXES:  # a loop: any() over a generator costs twice as much here
        if prefix in text:
            return True
    return "bearer" in text.lower()


def _triggered_rules(text: str) -> int:
    """Bit i is set when ``RULES[i]`` may find something in ``text``."""
    lowered = text.lower()
    mask = 0
    for bit, rule in _RULE_BITS:
        if rule.trigger(lowered if rule.trigger_on_lowered else text):
            mask |= bit
    return mask


def _combined(mask: int) -> re.Pattern[str]:
    """One alternation of the rules in ``mask``, in ``RULES`` order (compiled once per mask)."""
    combined = _COMBINED_BY_MASK.get(mask)
    if combined is None:
        chosen = [rule for index, rule in enumerate(RULES) if mask >> index & 1]
        combined = re.compile("|".join(f"(?P<{r.name}>{r.pattern.pattern})" for r in chosen))
        _COMBINED_BY_MASK[mask] = combined
    return combined


def _sanitize(text: str, kinds: list[str]) -> str:
    """``text`` with every finding replaced; the kind of each finding is appended to ``kinds``."""
    if not _may_contain_finding(text):
        return text
    mask = _triggered_rules(text)
    if not mask:
        return text
    return _combined(mask).sub(lambda match: _replace(match, kinds), text)


def _replace(match: re.Match[str], kinds: list[str]) -> str:
    name = match.lastgroup or ""  # the outer group: the rule that matched (never None)
    rule = _RULES_BY_NAME[name]
    found = match.group(name)
    if rule.is_finding is not None and not rule.is_finding(found):
        return found
    kept = match.group(rule.keep_group) if rule.keep_group is not None else ""
    if rule.value_group is None:
        kinds.append(rule.name)
        return kept + rule.placeholder
    value = match.group(rule.value_group)
    secret, after = value, ""
    if not kept.endswith(('"', "'")):  # unquoted: closing punctuation belongs to the text
        secret = value.rstrip(".)]}") or value
        after = value[len(secret) :]
    if secret in _PLACEHOLDERS:  # sanitized before
        return found
    placeholder, kind = _one_finding(secret) or (rule.placeholder, rule.name)
    kinds.append(kind)
    return kept + placeholder + after


def _one_finding(value: str) -> tuple[str, str] | None:
    """(placeholder, kind) when ``value`` is, as a whole, one finding of a rule."""
    inner: list[str] = []
    sanitized = _sanitize(value, inner)
    if len(inner) != 1:
        return None
    placeholder = _RULES_BY_NAME[inner[0]].placeholder
    before, _, rest = sanitized.partition(placeholder)
    if _ONLY_SPACING.fullmatch(before) and _ONLY_SPACING.fullmatch(rest):
        return placeholder, inner[0]
    return None


def sanitize_with_kinds(text: str | None) -> tuple[str | None, list[str]]:
    """``sanitize_text(text)``, and the rule name of each finding it replaced, in order."""
    if not text or not _may_contain_finding(text):
        return text, []
    kinds: list[str] = []
    return _sanitize(text, kinds), kinds


def sanitize_text(text: str | None) -> str | None:
    """Return ``text`` with every finding replaced by its placeholder (None stays None)."""
    if not text or not _may_contain_finding(text):
        return text
    return _sanitize(text, [])
