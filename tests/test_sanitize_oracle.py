"""detect-secrets as an independent oracle of the sanitizer.

``tests/fixtures/secrets_corpus.jsonl`` holds realistic task descriptions and error messages,
one JSON object per line: ``text`` (several lines for a pasted PEM key), ``field`` and
``kinds``, the sanitizer's findings in it (empty for a clean text). The keys are made up, in the
real shapes (AWS's documentation keys, a JWT of {"sub": "1234567890"}, ...).

detect-secrets (Yelp, pinned in the dev dependencies) scans each line of each text with its
default plugins, the way ``detect-secrets scan --string`` does: ``scan_line`` reports every
candidate of the high-entropy plugins and the command line then judges each against the
plugin's entropy limit (4.5 for base64, 3.0 for hex); ``findings`` applies the same limit.

What the oracle cannot judge, said here rather than hidden: its hex-entropy plugin flags git
commit ids, UUID segments and SHA-256 checksums, which the sanitizer keeps on purpose (they
identify code, not people, and are no credentials). Those findings are listed in
``KEPT_ON_PURPOSE`` and must be exactly the ones that survive; every other finding must be gone
after sanitizing. Several kinds have no detect-secrets plugin (e-mail, phone, home path, Google
API keys, IPv6) or are missed by it in prose (``password=...`` unquoted): for those the corpus's
own ``kinds`` are the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from detect_secrets.core.scan import scan_line
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.settings import default_settings, get_plugins

from warehouse.privacy.sanitize import RULES, sanitize_text, sanitize_with_kinds

CORPUS = Path(__file__).parent / "fixtures" / "secrets_corpus.jsonl"
ENTRIES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
HEX = "Hex High Entropy String"
# (corpus entry, detect-secrets type) of the clean texts the oracle flags: hashes and ids.
KEPT_ON_PURPOSE = {
    (34, HEX),  # "fatal: bad object <40-hex git commit id>"
    (35, HEX),  # "Revert commit <40-hex id> and cherry-pick 1f3e5a7"
    (36, HEX),  # "KeyError: task <UUID> not found" (its last segment)
    (41, HEX),  # "Document the checksum sha256 <64 hex> of the empty file"
}
# Every plugin the corpus exercises: the oracle must see each of these in the raw texts.
TYPES_IN_RAW_CORPUS = {
    "AWS Access Key",
    "Base64 High Entropy String",
    "Basic Auth Credentials",
    "GitHub Token",
    "GitLab Token",
    HEX,
    "JSON Web Token",
    "OpenAI Token",
    "Private Key",
    "Secret Keyword",
    "Slack Token",
    "Stripe Access Key",
}

Finder = Callable[[str], set[str]]


@pytest.fixture(scope="module")
def findings() -> Iterator[Finder]:
    """The detect-secrets types found in a text, line by line, with the default plugins."""
    with default_settings():
        plugins = {plugin.secret_type: plugin for plugin in get_plugins()}

        def find(text: str) -> set[str]:
            found = set()
            for line in text.split("\n"):
                for secret in scan_line(line):
                    plugin = plugins[secret.type]
                    if isinstance(plugin, HighEntropyStringsPlugin) and (
                        plugin.calculate_shannon_entropy(secret.secret_value or "")
                        <= plugin.entropy_limit
                    ):
                        continue  # below the plugin's limit: the CLI says False
                    found.add(secret.type)
            return found

        yield find


def test_the_corpus_holds_every_kind_and_clean_texts() -> None:
    kinds = {kind for entry in ENTRIES for kind in entry["kinds"]}
    assert kinds == {rule.name for rule in RULES}
    assert sum(1 for entry in ENTRIES if not entry["kinds"]) >= 10
    assert {entry["field"] for entry in ENTRIES} == {"task_description", "error_message"}


def test_the_sanitizer_finds_what_the_corpus_says() -> None:
    for index, entry in enumerate(ENTRIES):
        sanitized, kinds = sanitize_with_kinds(entry["text"])
        assert sorted(kinds) == sorted(entry["kinds"]), index
        if not entry["kinds"]:
            assert sanitized == entry["text"], index


def test_the_oracle_finds_secrets_in_the_raw_corpus(findings: Finder) -> None:
    raw = {index: findings(entry["text"]) for index, entry in enumerate(ENTRIES)}
    assert set().union(*raw.values()) == TYPES_IN_RAW_CORPUS
    with_secrets = [index for index, entry in enumerate(ENTRIES) if entry["kinds"]]
    assert sum(1 for index in with_secrets if raw[index]) >= 18


def test_no_finding_of_the_oracle_survives_sanitizing(findings: Finder) -> None:
    survivors = {
        (index, found)
        for index, entry in enumerate(ENTRIES)
        for found in findings(sanitize_text(entry["text"]))
    }
    assert survivors == KEPT_ON_PURPOSE
    for index, _ in survivors:
        assert ENTRIES[index]["kinds"] == [], index  # only on clean texts
