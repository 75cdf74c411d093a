"""Keyed hashes of recipients: how a recipient is matched where it must not be kept (suppressions,
and later erased jobs and audit records).

HMAC-SHA256 with WAVECOM_HASH_KEY of the recipient normalised, so `Alice@Example.com` and
`alice@example.com` are one person: e-mail addresses lower-cased, phone numbers in E.164 (they
are validated as E.164 at create already), push tokens as given. Without the key the hash of a
phone number could be found by trying every number, so the key is a secret of the deployment.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from shared.errors import ConfigError

_SPACING = re.compile(r"[\s()-]")


def normalised(recipient: str) -> str:
    """The form of a recipient that is hashed."""
    text = recipient.strip()
    if "@" in text:
        return text.lower()
    if text.startswith("+"):
        return "+" + _SPACING.sub("", text[1:])
    return text


def recipient_hash(key: str, recipient: str) -> str:
    """The keyed hash of a recipient, 64 hex characters."""
    if not key:
        raise ConfigError("WAVECOM_HASH_KEY is not set: recipients kept as hashes need the deployment's key")
    return hmac.new(key.encode(), normalised(recipient).encode(), hashlib.sha256).hexdigest()
