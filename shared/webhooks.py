"""Webhook endpoints of tenants (`webhooks`) and the record of every delivery attempt
(`webhookdeliveries`).

An endpoint's secret signs its deliveries (Standard Webhooks); after a rotation the previous
secret signs them too for 24 hours, so a receiver can switch without missing any. An endpoint
that fails an event's whole schedule is disabled with the reason, until re-enabled.

The delivery path asks, per batch, which events a tenant's enabled endpoints subscribe to; the
answer is kept for CACHE_SECONDS per process, so a tenant's traffic costs one small read every
few seconds, and a new or re-enabled endpoint gets events within that long.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection

from shared import clock
from shared.errors import NotFound
from shared.jobdocs import eq
from shared.mongo import translated

WEBHOOKS = "webhooks"
DELIVERIES = "webhookdeliveries"
Doc = dict[str, Any]
CACHE_SECONDS = 5.0
PREVIOUS_SECRET_MS = 24 * 3600 * 1000  # how long a rotated-out secret still signs
DELIVERIES_SHOWN = 100
MAX_ENDPOINTS = 10  # per tenant


@dataclass(frozen=True)
class Endpoint:
    """A tenant's webhook endpoint."""

    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime
    enabled: bool = True
    disabled_reason: str | None = None
    previous_secret: str | None = None  # still signing until `previous_until_ms`
    previous_until_ms: int = 0

    def secrets(self, now_ms: int) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one within
        24 hours of a rotation."""
        keep = self.previous_secret and now_ms < self.previous_until_ms
        return [self.secret, *([self.previous_secret] if keep and self.previous_secret else [])]

    def to_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The API's JSON of the endpoint; its secret only when just made or rotated."""
        return {"id": self.id, "url": self.url, "events": list(self.events), "enabled": self.enabled,
                "disabledReason": self.disabled_reason, "createdAt": clock.iso(self.created_at),
                **({"secret": self.secret} if with_secret else {})}


def _endpoint(doc: Doc) -> Endpoint:
    return Endpoint(id=doc["_id"], tenant=doc["tenant"], url=doc["url"], events=tuple(doc["events"]),
                    secret=doc["secret"], created_at=doc["createdAt"], enabled=bool(doc.get("enabled", True)),
                    disabled_reason=doc.get("disabledReason"), previous_secret=doc.get("previousSecret"),
                    previous_until_ms=int(doc.get("previousUntilMs") or 0))


class WebhookStore:
    """Endpoints in `webhooks`, attempts in `webhookdeliveries`."""

    def __init__(self, endpoints: Collection[Doc], deliveries: Collection[Doc]) -> None:
        self._c = endpoints
        self._d = deliveries
        self._cache: dict[str, tuple[float, dict[str, list[Endpoint]]]] = {}
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            self._c.create_index("tenant")
            self._d.create_index([("webhookId", 1), ("atMs", -1)])
            self._d.create_index([("tenant", 1), ("jobId", 1), ("atMs", -1)])

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, tenant: str, url: str, events: list[str], secret: str) -> Endpoint:
        """Register an endpoint; NotFound-free, it is the caller's to check the limit."""
        t = clock.now()
        doc = {"_id": f"wh_{ObjectId()}", "tenant": tenant, "url": url, "events": events, "secret": secret,
               "enabled": True, "createdAt": t, "createdAtMs": clock.epoch_ms_of(t)}
        with translated():
            self._c.insert_one(doc)
        self.forget(tenant)
        return _endpoint(doc)

    def of_tenant(self, tenant: str) -> list[Endpoint]:
        """A tenant's endpoints, oldest first."""
        with translated():
            return sorted((_endpoint(d) for d in self._c.find({"tenant": eq(tenant)})), key=lambda e: e.created_at)

    def get(self, tenant: str | None, webhook_id: str) -> Endpoint:
        """One endpoint (of `tenant`, when given); NotFound if there is none."""
        with translated():
            doc = self._c.find_one({"_id": webhook_id, **({"tenant": eq(tenant)} if tenant else {})})
        if doc is None:
            raise NotFound("webhook")
        return _endpoint(doc)

    def delete(self, tenant: str, webhook_id: str) -> None:
        """Remove an endpoint; what is queued for it is dropped when it comes up."""
        with translated():
            if not self._c.delete_one({"_id": webhook_id, "tenant": eq(tenant)}).deleted_count:
                raise NotFound("webhook")
        self.forget(tenant)

    def _update(self, tenant: str | None, webhook_id: str, update: Doc) -> Endpoint:
        with translated():
            doc = self._c.find_one_and_update({"_id": webhook_id, **({"tenant": eq(tenant)} if tenant else {})},
                                              update, return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NotFound("webhook")
        self.forget(doc["tenant"])
        return _endpoint(doc)

    def enable(self, tenant: str, webhook_id: str) -> Endpoint:
        """Turn a disabled endpoint back on."""
        return self._update(tenant, webhook_id, {"$set": {"enabled": True}, "$unset": {"disabledReason": ""}})

    def disable(self, webhook_id: str, reason: str) -> Endpoint:
        """Turn an endpoint off, saying why (an event's whole schedule failed)."""
        return self._update(None, webhook_id, {"$set": {"enabled": False, "disabledReason": reason}})

    def rotate(self, tenant: str, webhook_id: str, secret: str) -> Endpoint:
        """Give an endpoint a new secret; the one it had keeps signing for 24 hours."""
        current = self.get(tenant, webhook_id)
        return self._update(tenant, webhook_id, {"$set": {
            "secret": secret, "previousSecret": current.secret,
            "previousUntilMs": clock.epoch_ms() + PREVIOUS_SECRET_MS}})

    # -- who listens ---------------------------------------------------------------------------

    def listening(self, tenant: str, event: str) -> list[Endpoint]:
        """A tenant's enabled endpoints that subscribe to `event` (cached for a few seconds)."""
        now_s = time.monotonic()
        with self._lock:
            hit = self._cache.get(tenant)
        if hit is None or now_s - hit[0] > CACHE_SECONDS:
            by_event: dict[str, list[Endpoint]] = {}
            for endpoint in self.of_tenant(tenant):
                if endpoint.enabled:
                    for name in endpoint.events:
                        by_event.setdefault(name, []).append(endpoint)
            hit = (now_s, by_event)
            with self._lock:
                self._cache[tenant] = hit
        return hit[1].get(event, [])

    def forget(self, tenant: str) -> None:
        """Drop this process's cached answer for a tenant (its endpoints changed here)."""
        with self._lock:
            self._cache.pop(tenant, None)

    # -- attempts ------------------------------------------------------------------------------

    def record_many(self, attempts: list[tuple[Endpoint, Doc]]) -> None:
        """Keep delivery attempts (eventId, type, jobId, attempt, statusCode, durationMs, error),
        in one insert."""
        if not attempts:
            return
        t = clock.now()
        with translated():
            self._d.insert_many([{"webhookId": endpoint.id, "tenant": endpoint.tenant, "at": t,
                                  "atMs": clock.epoch_ms_of(t), **attempt} for endpoint, attempt in attempts],
                                ordered=False)

    def forget_jobs(self, tenant: str, job_ids: list[str]) -> int:
        """Delete the tries of these jobs' events (their job is deleted or erased); how many."""
        if not job_ids:
            return 0
        with translated():
            return self._d.delete_many({"tenant": eq(tenant), "jobId": {"$in": job_ids}}).deleted_count

    def deliveries(self, tenant: str, webhook_id: str | None = None, job_id: str | None = None,
                   limit: int = DELIVERIES_SHOWN) -> list[Doc]:
        """Attempts newest first, of one endpoint or of one job (each one read from an index)."""
        query: Doc = {"webhookId": eq(webhook_id)} if webhook_id else {"tenant": eq(tenant), "jobId": eq(job_id)}
        with translated():
            docs = list(self._d.find(query).sort("atMs", -1).limit(limit))
        return [{"webhookId": d["webhookId"], "eventId": d["eventId"], "type": d["type"], "jobId": d.get("jobId"),
                 "attempt": d["attempt"], "at": clock.iso(d["at"]), "statusCode": d.get("statusCode"),
                 "durationMs": d.get("durationMs"), "error": d.get("error")}
                for d in docs if d["tenant"] == tenant]
