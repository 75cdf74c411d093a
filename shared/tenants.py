"""API keys and the tenants they belong to. Keys are stored only as their SHA-256 digest.

A key is 32 random bytes, so a fast digest is enough: there is nothing to guess that a slow
password hash would protect. The first characters (`keyId`) name a key without revealing it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from pymongo.collection import Collection

from shared import clock
from shared.mongo import translated

Doc = dict[str, Any]
KEYS = "apikeys"
PREFIX = "wck_"
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CACHE_SECONDS = 5.0  # a revoked key stops working within this long on every API process


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """The public name of a key: its prefix and first 8 characters."""
    return key[: len(PREFIX) + 8]


@dataclass(frozen=True)
class IssuedKey:
    """A key as printed once at creation."""

    tenant: str
    key_id: str
    key: str


class KeyStore:
    """API keys in the `apikeys` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            self._c.create_index("keyId")
            self._c.create_index("tenant")

    def create(self, tenant: str) -> IssuedKey:
        """Issue a new key for `tenant` (created on first use)."""
        if not TENANT_NAME.match(tenant):
            raise ValueError("a tenant name is 1-63 lower-case letters, digits, '-' or '_'")
        key = PREFIX + secrets.token_urlsafe(32)
        self._store(tenant, key)
        return IssuedKey(tenant, key_id(key), key)

    def ensure(self, tenant: str, key: str) -> None:
        """Make `key` a valid key of `tenant` (the bootstrap key); idempotent."""
        self._store(tenant, key)

    def _store(self, tenant: str, key: str) -> None:
        with translated():
            self._c.update_one(
                {"_id": digest(key)},
                {"$set": {"tenant": tenant, "keyId": key_id(key), "revoked": False},
                 "$setOnInsert": {"createdAt": clock.now()}},
                upsert=True,
            )

    def revoke(self, key_or_id: str) -> int:
        """Revoke a key, given whole or by its key id; returns how many were revoked."""
        match = {"_id": digest(key_or_id)} if len(key_or_id) > len(PREFIX) + 8 else {"keyId": key_or_id}
        with translated():
            result = self._c.update_many({**match, "revoked": False}, {"$set": {"revoked": True}})
        with self._lock:
            self._cache.clear()
        return result.modified_count

    def tenant_of(self, key: str) -> str | None:
        """The tenant of a valid key, or None (unknown or revoked); cached briefly."""
        hashed = digest(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(hashed)
        if hit is not None and hit[0] > now:
            return hit[1]
        with translated():
            doc = self._c.find_one({"_id": hashed, "revoked": False}, {"tenant": 1})
        tenant = None if doc is None else str(doc["tenant"])
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[hashed] = (now + CACHE_SECONDS, tenant)
        return tenant

    def list(self) -> list[Doc]:
        """Every key's id, tenant and state (never the key)."""
        with translated():
            docs = list(self._c.find({}, {"_id": 0, "keyId": 1, "tenant": 1, "revoked": 1, "createdAt": 1}))
        # bool(): the embedded store reads a $set boolean back as 1 (tests/integration/test_store_gaps.py).
        return [{**d, "revoked": bool(d.get("revoked"))} for d in docs]
