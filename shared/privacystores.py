"""What the personal-data lifecycle keeps besides jobs: each tenant's own retention (`tenants`),
erasures and their progress (`erasures`), and the audit trail of exports and erasures
(`audits`). None of them holds a recipient in clear: an erasure names its person by keyed hash."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection

from shared import clock
from shared.errors import NotFound
from shared.jobdocs import eq
from shared.mongo import translated

Doc = dict[str, Any]
TENANTS, ERASURES, AUDITS = "tenants", "erasures", "audits"


class PolicyStore:
    """Each tenant's own retention, shorter than the deployment's, in `tenants`."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def retention_days(self, tenant: str) -> int | None:
        """The tenant's own retention in days, if it set one."""
        with translated():
            doc = self._c.find_one({"_id": tenant})
        return int(doc["retentionDays"]) if doc and doc.get("retentionDays") else None

    def set_retention_days(self, tenant: str, days: int | None) -> None:
        """Set (or, with None, drop) the tenant's own retention."""
        update: Doc = {"$set": {"retentionDays": days}} if days else {"$unset": {"retentionDays": ""}}
        with translated():
            self._c.update_one({"_id": tenant}, update, upsert=True)

    def shorter(self) -> dict[str, int]:
        """Every tenant that keeps jobs for fewer days than asked of it, with its days."""
        with translated():
            return {str(d["_id"]): int(d["retentionDays"]) for d in self._c.find({"retentionDays": {"$gt": 0}})}


class ErasureStore:
    """Erasures of a recipient's data, in `erasures`: running until their final pass is done."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def ensure_indexes(self) -> None:
        """The index of erasures still running."""
        with translated():
            self._c.create_index([("status", 1), ("finalAtMs", 1)])

    def start(self, tenant: str, recipient_hash: str, key_id: str | None, final_at_ms: int, recipient: str) -> Doc:
        """A new running erasure; it holds the recipient for its final pass only."""
        doc = {"_id": f"er_{ObjectId()}", "tenant": tenant, "recipientHash": recipient_hash, "status": "running",
               "keyId": key_id, "createdAt": clock.now(), "finalAtMs": final_at_ms, "jobs": 0, "cancelled": 0,
               "recipient": recipient}
        with translated():
            self._c.insert_one(doc)
        return doc

    def progress(self, erasure_id: str, jobs: int, cancelled: int, done: bool = False) -> Doc:
        """Count a pass's jobs; with `done`, the erasure is finished."""
        update: Doc = {"$inc": {"jobs": jobs, "cancelled": cancelled}}
        if done:  # the recipient goes with the last pass
            update |= {"$set": {"status": "done", "finishedAt": clock.iso(clock.now())}, "$unset": {"recipient": ""}}
        with translated():
            doc = self._c.find_one_and_update({"_id": erasure_id}, update, return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NotFound("erasure")
        return doc

    def get(self, tenant: str, erasure_id: str) -> Doc:
        """One of the tenant's erasures; NotFound if there is none."""
        with translated():
            doc = self._c.find_one({"_id": erasure_id, "tenant": eq(tenant)})
        if doc is None:
            raise NotFound("erasure")
        return doc

    def due(self, now_ms: int) -> list[Doc]:
        """Running erasures whose final pass is due."""
        with translated():
            return list(self._c.find({"status": eq("running"), "finalAtMs": {"$lte": now_ms}}).limit(100))


def erasure_json(doc: Doc) -> Doc:
    """The API's JSON of an erasure."""
    return {"id": doc["_id"], "status": doc["status"], "recipientHash": doc["recipientHash"],
            "createdAt": clock.iso(doc["createdAt"]), "jobs": doc["jobs"], "cancelled": doc["cancelled"],
            **({"finishedAt": doc["finishedAt"]} if doc.get("finishedAt") else {})}


class AuditStore:
    """The audit trail, in `audits`: who (the API key's id) exported or erased what, and when."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def ensure_indexes(self) -> None:
        """A tenant's trail in time order."""
        with translated():
            self._c.create_index([("tenant", 1), ("atMs", -1)])

    def record(self, tenant: str, action: str, key_id: str | None, **details: Any) -> None:
        """Add one entry (details name no recipient in clear)."""
        t = clock.now()
        with translated():
            self._c.insert_one({"tenant": tenant, "action": action, "keyId": key_id, "at": t,
                                "atMs": clock.epoch_ms_of(t), **details})

    def of_tenant(self, tenant: str, limit: int = 100) -> list[Doc]:
        """A tenant's newest entries."""
        with translated():
            docs = self._c.find({"tenant": eq(tenant)}, {"_id": 0, "atMs": 0, "tenant": 0}).sort("atMs", -1).limit(limit)
            return [{**d, "at": clock.iso(d["at"])} for d in docs]
