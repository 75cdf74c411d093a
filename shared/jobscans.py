"""The sweeper's and the metrics' looks at `notificationjobs`: jobs left too long in a status,
leases run out, scheduled jobs now due, the oldest job still waiting. Part of
shared.store.JobStore (a mixin, to keep each module small); each query is answered from an index
that starts with the status (tests/integration/test_list_plans.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING
from pymongo.collection import Collection

from shared import clock
from shared.jobdocs import (
    DEFAULT_TENANT,
    NO_TIMELINE,
    Doc,
    eq,
    job_of,
    object_id,
    priority_of,
    stored_events,
)
from shared.model import Job, Priority
from shared.mongo import translated
from shared.states import Status

STALE_BATCH = 20  # jobs the sweeper reads at a time when it looks for stale ones


class JobScans:
    """Reads for the sweeper and the scrape-time gauges (needs `_c`, the collection)."""

    _c: Collection[Doc]

    def many(self, job_ids: list[str]) -> dict[str, Job]:
        """The jobs with these ids that exist (any tenant), in one read."""
        ids = [object_id(j) for j in dict.fromkeys(job_ids)]
        with translated():
            return {str(d["_id"]): job_of(d) for d in self._c.find({"_id": {"$in": ids}}, NO_TIMELINE)}

    def by_provider_message_id(self, message_id: str) -> tuple[str, str, str, list[Doc]] | None:
        """The job a provider's message id was stored on at send: (id, tenant, recipient,
        timeline), or None; one read from its index."""
        with translated():
            doc = self._c.find_one({"providerMessageId": eq(message_id)}, {"tenant": 1, "recipient": 1, "events": 1})
        if doc is None:
            return None
        return str(doc["_id"]), str(doc.get("tenant", DEFAULT_TENANT)), str(doc["recipient"]), \
            stored_events(doc.get("events"))

    def oldest_created(self, statuses: Iterable[Status]) -> datetime | None:
        """When the oldest job in one of `statuses` was created (None: there is none)."""
        found: list[datetime] = []
        with translated():
            for status in statuses:
                doc = self._c.find_one({"status": eq(status.value)}, {"createdAt": 1},
                                       sort=[("createdAtMs", ASCENDING)])
                if doc is not None:
                    found.append(doc["createdAt"])
        return min(found, default=None)

    def stale(self, status: Status, older_than: datetime, limit: int) -> list[tuple[str, str, Priority]]:
        """(id, tenant, priority) of jobs left in `status` since before `older_than`, oldest first.

        Selected by status and order through the index and compared by time here: the embedded
        store compares a date range in Python, document by document, over every job in the
        status (seconds during a backlog; tests/integration/test_store_gaps.py). Read in small
        batches and stopped at the first job that is not stale, so a backlog of fresh jobs costs
        one batch.
        """
        found: list[tuple[str, str, Priority]] = []
        with translated():
            docs = self._c.find({"status": eq(status.value)}, {"updatedAt": 1, "tenant": 1, "priority": 1})
            for doc in docs.sort("updatedAt", ASCENDING).limit(limit).batch_size(STALE_BATCH):
                if doc["updatedAt"] >= older_than:
                    break
                found.append((str(doc["_id"]), str(doc.get("tenant", DEFAULT_TENANT)),
                              priority_of(doc)))
            docs.close()
        return found

    def due(self, limit: int) -> list[tuple[str, str, Priority]]:
        """(id, tenant, priority) of `scheduled` jobs whose `sendAt` has come (at most `limit`)."""
        with translated():
            docs = self._c.find({"status": eq(Status.SCHEDULED.value), "sendAtMs": {"$lte": clock.epoch_ms()}},
                                {"tenant": 1, "priority": 1})
            return [(str(d["_id"]), str(d.get("tenant", DEFAULT_TENANT)), priority_of(d))
                    for d in docs.limit(limit)]

    def expired_leases(self, limit: int) -> list[str]:
        """Ids of jobs whose sender's lease ran out (the worker died or hung mid-send)."""
        with translated():
            docs = self._c.find({"status": eq(Status.SENDING.value), "leaseUntilMs": {"$lt": clock.epoch_ms()}},
                                {"_id": 1})
            return [str(d["_id"]) for d in docs.limit(limit)]

    def touch_if_stale(self, job_id: str, status: Status, older_than: datetime) -> bool:
        """Compare-and-set: bump `updatedAt` if the job is still `status` and older than
        `older_than`. Of several sweepers racing for one job exactly one gets True."""
        with translated():
            result = self._c.update_one(
                {"_id": object_id(job_id), "status": eq(status.value), "updatedAt": {"$lt": older_than}},
                {"$currentDate": {"updatedAt": True}},
            )
        return result.modified_count == 1
