"""Idempotency keys: the same key and body get the first answer again, whatever happens.

One document per (tenant, key), its `_id` derived from both, so two concurrent requests with
the same key cannot both start: the second insert is refused by the `_id` index. Records
expire after 24 hours. MongoDB deletes them through a TTL index; the embedded store keeps the
index but never deletes (tests/integration/test_idempotency.py), so expiry is also checked
when a record is read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.collection import Collection

from shared import clock
from shared.errors import Duplicate, FieldError, IdempotencyConflict, ValidationFailed
from shared.mongo import translated

Doc = dict[str, Any]
KEYS = "idempotencykeys"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"  # visible ASCII (the OpenAPI document states it too)
# A request still "in progress" after this long died with its process; its key is free again.
ABANDONED_AFTER_MS = 60_000


@dataclass(frozen=True)
class Stored:
    """The answer given the first time."""

    status: int
    body: Any


def fingerprint(payload: Any) -> str:
    """A digest of a decoded request body that ignores key order and spacing."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_key(key: str) -> str:
    """The key if it is 1-255 visible ASCII characters; ValidationFailed otherwise."""
    if not re.fullmatch(KEY_PATTERN, key):
        raise ValidationFailed(
            [FieldError("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} visible ASCII characters")],
            "The Idempotency-Key header is invalid.",
        )
    return key


def job_ids_of(body: Any) -> list[str]:
    """The job ids an answer names: a create's `id`, a batch's items' ids."""
    if not isinstance(body, dict):
        return []
    items: list[Any] = body["items"] if isinstance(body.get("items"), list) else [body]
    return [str(i["id"]) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


class IdempotencyStore:
    """Records of requests made with an Idempotency-Key, in `idempotencykeys`."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def ensure_indexes(self) -> None:
        """The TTL index that lets MongoDB delete expired records (idempotent)."""
        with translated():
            self._c.create_index("expiresAt", expireAfterSeconds=0)
            self._c.create_index([("tenant", 1), ("jobIds", 1)])  # an erasure's records of a recipient's jobs

    @staticmethod
    def _id(tenant: str, key: str) -> str:
        return f"{tenant}:{hashlib.sha256(key.encode()).hexdigest()}"

    def begin(self, tenant: str, key: str, digest: str) -> Stored | None:
        """Claim the key for this request (None), or return the first answer (Stored).

        Raises IdempotencyConflict while the first request is still running (in_progress) or
        when the key came with another body.
        """
        _id = self._id(tenant, key)
        for _ in range(3):
            now, now_ms = clock.now(), clock.epoch_ms()
            record = {"_id": _id, "tenant": tenant, "fingerprint": digest, "state": "in_progress",
                      "startedMs": now_ms, "expiresAt": now + TTL, "expiresAtMs": now_ms + int(TTL.total_seconds() * 1000)}
            try:
                with translated():
                    self._c.insert_one(record)
                return None
            except Duplicate:
                pass
            with translated():
                existing = self._c.find_one({"_id": _id})
            if existing is None:
                continue  # deleted in between: try again
            abandoned = existing["state"] == "in_progress" and existing["startedMs"] < now_ms - ABANDONED_AFTER_MS
            if existing["expiresAtMs"] <= now_ms or abandoned:
                with translated():  # compare-and-delete: only the record we looked at
                    self._c.delete_one({"_id": _id, "startedMs": existing["startedMs"]})
                continue
            if existing["fingerprint"] != digest:
                raise IdempotencyConflict(in_progress=False)
            if existing["state"] == "in_progress":
                raise IdempotencyConflict(in_progress=True)
            return Stored(int(existing["status"]), existing["body"])
        raise IdempotencyConflict(in_progress=True)

    def complete(self, tenant: str, key: str, status: int, body: Any) -> None:
        """Remember the answer for replays, with the ids of the jobs it names (an erasure finds
        the record by them)."""
        with translated():
            self._c.update_one({"_id": self._id(tenant, key)}, {"$set": {"state": "done", "status": status, "body": body,
                                                                         "jobIds": job_ids_of(body)}})

    def forget_jobs(self, tenant: str, job_ids: list[str]) -> int:
        """Delete the records whose answers name these jobs (an erasure); how many."""
        if not job_ids:
            return 0
        with translated():
            return self._c.delete_many({"tenant": {"$eq": tenant}, "jobIds": {"$in": job_ids}}).deleted_count

    def abandon(self, tenant: str, key: str) -> None:
        """Free the key after a request that failed, so the client can try again with it."""
        with translated():
            self._c.delete_one({"_id": self._id(tenant, key), "state": "in_progress"})
