"""The suppression list: recipients a tenant must not send to any more (a hard bounce, a
complaint, or added by hand), in the `suppressions` collection.

A recipient is kept only as its keyed hash (shared.hashing) and its mask, so an entry holds no
personal data a later erasure would have to delete. One document per tenant and recipient, its
`_id` `<tenant>:<hash>`, so the delivery path looks a whole batch up by `_id` in one read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from shared import clock
from shared.errors import Duplicate
from shared.hashing import recipient_hash
from shared.jobdocs import eq
from shared.masking import mask_recipient
from shared.mongo import translated

SUPPRESSIONS = "suppressions"
Doc = dict[str, Any]
PAGE = 100  # entries GET /api/suppressions returns


@dataclass(frozen=True)
class Suppression:
    """One suppressed recipient of a tenant, as the API shows it."""

    recipient: str  # masked
    hash: str
    reason: str  # bounce, complaint or manual
    created_at: datetime
    job_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The API's JSON of an entry."""
        return {"recipient": self.recipient, "hash": self.hash, "reason": self.reason,
                "createdAt": clock.iso(self.created_at), **({"jobId": self.job_id} if self.job_id else {})}


class SuppressionStore:
    """Suppressed recipients per tenant, by keyed hash."""

    def __init__(self, collection: Collection[Doc], key: str) -> None:
        self._c = collection
        self._key = key

    def ensure_indexes(self) -> None:
        """Create the index of a tenant's list (idempotent)."""
        with translated():
            self._c.create_index([("tenant", 1), ("createdAtMs", -1)])

    def _id(self, tenant: str, recipient: str) -> str:
        return f"{tenant}:{recipient_hash(self._key, recipient)}"

    def add(self, tenant: str, recipient: str, reason: str, job_id: str | None = None) -> bool:
        """Suppress a recipient for a tenant; False when it already was (the first reason stays)."""
        t = clock.now()
        doc = {"_id": self._id(tenant, recipient), "tenant": tenant, "hash": recipient_hash(self._key, recipient),
               "masked": mask_recipient(recipient), "reason": reason, "createdAt": t,
               "createdAtMs": clock.epoch_ms_of(t), **({"jobId": job_id} if job_id else {})}
        try:
            with translated():
                self._c.insert_one(doc)
        except Duplicate:
            return False
        return True

    def remove(self, tenant: str, recipient: str) -> bool:
        """Lift a recipient's suppression; False when there was none."""
        with translated():
            return bool(self._c.delete_one({"_id": self._id(tenant, recipient)}).deleted_count)

    def remove_hash(self, tenant: str, hashed: str) -> bool:
        """Lift a suppression named by its hash; False when there was none."""
        with translated():
            return bool(self._c.delete_one({"_id": f"{tenant}:{hashed}"}).deleted_count)

    def page(self, tenant: str, limit: int = PAGE) -> list[Suppression]:
        """A tenant's newest entries."""
        with translated():
            docs = self._c.find({"tenant": eq(tenant)}).sort("createdAtMs", -1).limit(limit)
            return [Suppression(d["masked"], d["hash"], d["reason"], d["createdAt"], d.get("jobId"))
                    for d in docs]

    def suppressed(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Which (tenant, recipient) pairs are suppressed, with each one's reason: one read for
        all of them, whatever their number."""
        ids = {self._id(tenant, recipient): (tenant, recipient) for tenant, recipient in pairs}
        if not ids:
            return {}
        with translated():
            return {ids[d["_id"]]: str(d["reason"]) for d in self._c.find({"_id": {"$in": list(ids)}}, {"reason": 1})}
