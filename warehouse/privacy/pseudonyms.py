"""The key of the support schema's pseudonyms (docs/privacy.md, "The support schema").

Organizations appear in schema ``support`` only as ``privacy.pseudonymize(id)``: HMAC-SHA256 of
the id under a key that only the build role reads. Migration 0007 makes a random key; the
setting ``WAREHOUSE_PSEUDONYM_KEY`` (a secret: never printed, never committed) replaces it, for
pseudonyms that stay the same across rebuilt databases. The next build uses the new key.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import psycopg

KEY_VARIABLE = "WAREHOUSE_PSEUDONYM_KEY"


def configured_key() -> bytes | None:
    key = os.environ.get(KEY_VARIABLE, "")
    return key.encode("utf-8") if key else None


def apply_configured_key(connection: psycopg.Connection) -> None:
    """Store the configured key, if any (a no-op when the database already holds it)."""
    key = configured_key()
    if key is not None:
        connection.execute("select privacy.set_pseudonym_key(%s)", (key,))


def pseudonym(key: bytes, organization_id: str) -> str:
    """What ``privacy.pseudonymize`` gives for this id under this key."""
    return hmac.new(key, organization_id.encode("utf-8"), hashlib.sha256).hexdigest()
