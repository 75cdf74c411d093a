"""The two collections: notification jobs and their log entries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.collection import Collection

from shared import clock
from shared.errors import JobNotFound
from shared.groupcommit import Batcher
from shared.model import Job, LogEntry, NewJob
from shared.mongo import translated
from shared.states import Event, Status, check_move, sources_of

Doc = dict[str, Any]
JOBS = "notificationjobs"
DEFAULT_TENANT = "default"
NEWEST_FIRST = [("createdAtMs", DESCENDING), ("_id", DESCENDING)]
LOGS = "notificationlogs"


def object_id(job_id: str) -> ObjectId:
    """The ObjectId of a job id, or JobNotFound when it cannot be one."""
    try:
        return ObjectId(job_id)
    except (InvalidId, TypeError):
        raise JobNotFound(job_id) from None


def _job_ref(job_id: str) -> Doc:
    """Match a log entry's `jobId` written as a hex string (ours) or an ObjectId (the seed's).

    Ours are strings because the embedded store cannot match an ObjectId outside `_id`
    (tests/integration/test_store_gaps.py); `$in` with both forms is portable.
    """
    return {"jobId": {"$in": [object_id(job_id), job_id]}}


def _job(doc: Doc) -> Job:
    return Job(
        id=str(doc["_id"]),
        type=doc["type"],
        recipient=doc["recipient"],
        message=doc["message"],
        metadata=doc.get("metadata") or {},
        status=Status(doc["status"]),
        attempts=int(doc.get("attempts", 0)),
        max_attempts=int(doc["maxAttempts"]),
        budget=int(doc.get("attemptBudget") or doc["maxAttempts"]),
        lease_owner=doc.get("leaseOwner"),
        tenant=str(doc.get("tenant", DEFAULT_TENANT)),
        last_error=doc.get("lastError"),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


class JobStore:
    """Jobs in the `notificationjobs` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection
        self.client = collection.database.client
        self._claims: Batcher[tuple[str, str, int], Job | None] | None = None
        self._finishes: Batcher[tuple[str, str, Status, Doc], bool] | None = None

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            # Newest-first listing, per tenant and per filter. (On MongoDB, `_id` as the last key
            # would also cover the tie-break; the embedded store rejects inserts once `_id` is
            # in a compound index.)
            self._c.create_index([("createdAt", DESCENDING)])
            for keys in ([], ["status"], ["type"], ["recipient"]):
                self._c.create_index([("tenant", ASCENDING), *((k, ASCENDING) for k in keys),
                                      ("createdAtMs", DESCENDING)])
            self._c.create_index([("status", ASCENDING), ("updatedAt", ASCENDING)])
            self._c.create_index([("status", ASCENDING), ("leaseUntilMs", ASCENDING)])
            self._c.create_index([("status", ASCENDING), ("createdAtMs", ASCENDING)])  # oldest waiting job

    def insert(self, new: NewJob, max_attempts: int, tenant: str = DEFAULT_TENANT) -> Job:
        """Store a new `pending` job of `tenant`."""
        return self.insert_many([new], max_attempts, tenant)[0]

    def insert_many(self, news: list[NewJob], max_attempts: int, tenant: str = DEFAULT_TENANT) -> list[Job]:
        """Store new `pending` jobs of `tenant` in one bulk write."""
        docs = [self._new_doc(new, max_attempts, tenant) for new in news]
        with translated():
            self._c.insert_many(docs, ordered=True)  # pymongo sets each doc's _id
        return [_job(doc) for doc in docs]

    def mark_queued(self, job_ids: list[str]) -> list[str]:
        """Move published `pending` jobs to `queued` in one update; returns the ids that moved.

        A job a fast worker already claimed is left as it is.
        """
        check_move(Status.PENDING, Status.QUEUED)
        oids = [object_id(j) for j in job_ids]
        with translated():
            result = self._c.update_many({"_id": {"$in": oids}, "status": Status.PENDING.value},
                                         {"$set": {"status": Status.QUEUED.value}, "$currentDate": {"updatedAt": True}})
            if result.modified_count == len(job_ids):
                return job_ids
            moved = self._c.find({"_id": {"$in": oids}, "status": Status.QUEUED.value}, {"_id": 1})
            return [str(d["_id"]) for d in moved]

    @staticmethod
    def _new_doc(new: NewJob, max_attempts: int, tenant: str) -> Doc:
        t = clock.now()
        return {
            "tenant": tenant,
            "type": new.type,
            "recipient": new.recipient,
            "message": new.message,
            "metadata": new.metadata,
            "status": Status.PENDING.value,
            "attempts": 0,
            "maxAttempts": max_attempts,
            "attemptBudget": max_attempts,
            "lastError": None,
            "createdAt": t,
            "createdAtMs": clock.epoch_ms_of(t),
            "updatedAt": t,
            "__v": 0,
        }

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """The job with this id (of `tenant`, when given), or JobNotFound.

        Another tenant's job is "not found", never "forbidden": its existence is not revealed.
        """
        oid = object_id(job_id)
        scope = {} if tenant is None else {"tenant": tenant}
        with translated():
            doc = self._c.find_one({"_id": oid, **scope})
        if doc is None:
            raise JobNotFound(job_id)
        return _job(doc)

    def latest(self, limit: int = 100) -> list[Job]:
        """The newest jobs of every tenant first (operators' view)."""
        with translated():
            docs = list(self._c.find().sort(NEWEST_FIRST).limit(limit))
        return [_job(d) for d in docs]

    def page(
        self,
        tenant: str,
        filters: Doc,
        limit: int,
        *,
        after: tuple[int, str] | None = None,
        since_ms: int | None = None,
    ) -> list[Job]:
        """A tenant's jobs newest first, filtered by equality on `filters`, after a cursor.

        Keyset pagination on (createdAtMs, _id): stable under concurrent inserts, no page
        skips or repeats a job. Integers, not dates: the embedded store compares dates to the
        second (tests/integration/test_store_gaps.py).
        """
        query: Doc = {"tenant": tenant, **filters}
        if since_ms is not None:
            query["createdAtMs"] = {"$gte": since_ms}
        if after is not None:
            created, job_id = after
            query["$or"] = [
                {"createdAtMs": {"$lt": created}},
                {"createdAtMs": created, "_id": {"$lt": object_id(job_id)}},
            ]
        with translated():
            docs = list(self._c.find(query).sort(NEWEST_FIRST).limit(limit))
        return [_job(d) for d in docs]

    def move(
        self,
        job_id: str,
        target: Status,
        *,
        sources: Iterable[Status] | None = None,
        where: Doc | None = None,
        fields: Doc | None = None,
        inc: Doc | None = None,
        unset: Iterable[str] = (),
    ) -> Job | None:
        """Move a job to `target` if it is in one of `sources` (default: every status the state
        machine allows) and matches `where`, in one atomic conditional update.

        Returns the updated job, or None when the job was not in a state that allows the move.
        """
        allowed = frozenset(sources) if sources is not None else sources_of(target)
        for source in allowed:
            check_move(source, target)
        # $currentDate, not $set: the server's clock, and the embedded store stores a $set of a
        # top-level datetime as a string (tests/integration/test_store_gaps.py).
        update: Doc = {"$set": {"status": target.value, **(fields or {})}, "$currentDate": {"updatedAt": True}}
        if inc:
            update["$inc"] = inc
        if unset:
            update["$unset"] = {name: "" for name in unset}
        with translated():
            doc = self._c.find_one_and_update(
                {"_id": object_id(job_id), "status": {"$in": [s.value for s in allowed]}, **(where or {})},
                update,
                return_document=ReturnDocument.AFTER,
            )
        return None if doc is None else _job(doc)

    def claim(self, job_id: str, owner: str, lease_ms: int) -> Job | None:
        """Take a job for one delivery attempt under a lease; None if it is not claimable."""
        if self._claims is not None:
            return self._claims.submit((job_id, owner, lease_ms))
        return self.claim_many([job_id], owner, lease_ms)[0]

    def claim_many(self, job_ids: list[str], owner: str, lease_ms: int) -> list[Job | None]:
        """Claim many jobs in one update and one read; each answer in the order asked.

        The lease owner is `owner` plus a token of this call, so the read finds exactly what
        this call claimed. A job asked for twice is claimed once.
        """
        token = f"{owner}:{uuid.uuid4().hex[:8]}"
        oids = list({object_id(j) for j in job_ids})
        update: Doc = {
            "$set": {"status": Status.SENDING.value, "leaseOwner": token, "leaseUntilMs": clock.epoch_ms() + lease_ms},
            "$inc": {"attempts": 1},
            "$currentDate": {"updatedAt": True},
        }
        with translated():
            self._c.update_many(
                {"_id": {"$in": oids}, "status": {"$in": [s.value for s in sources_of(Status.SENDING)]}}, update
            )
            claimed = {str(d["_id"]): _job(d) for d in self._c.find({"_id": {"$in": oids}, "leaseOwner": token})}
        return [claimed.pop(j, None) for j in job_ids]

    def finish(self, job_id: str, owner: str, target: Status, fields: Doc | None = None) -> bool:
        """Store the outcome of an attempt, only if `owner` still holds the job's lease."""
        if self._finishes is not None:
            return self._finishes.submit((job_id, owner, target, fields or {}))
        return self.finish_many([(job_id, owner, target, fields or {})])[0]

    def finish_many(self, outcomes: list[tuple[str, str, Status, Doc]]) -> list[bool]:
        """Store many outcomes in one bulk write; each is applied only under its own lease."""
        for _, _, target, _ in outcomes:
            check_move(Status.SENDING, target)
        ops = [
            UpdateOne(
                {"_id": object_id(job_id), "status": Status.SENDING.value, "leaseOwner": owner},
                {"$set": {"status": target.value, "finishedBy": owner, **fields},
                 "$unset": {"leaseOwner": "", "leaseUntilMs": ""}, "$currentDate": {"updatedAt": True}},
            )
            for job_id, owner, target, fields in outcomes
        ]
        with translated():
            result = self._c.bulk_write(ops, ordered=False)
            if result.matched_count == len(ops):
                return [True] * len(ops)
            # Some leases had moved on: find out which outcomes were stored.
            owners = list({owner for _, owner, _, _ in outcomes})
            done = {(str(d["_id"]), d["finishedBy"]) for d in self._c.find(
                {"_id": {"$in": [object_id(j) for j, _, _, _ in outcomes]}, "finishedBy": {"$in": owners}},
                {"finishedBy": 1})}
        return [(job_id, owner) in done for job_id, owner, _, _ in outcomes]

    def group_writes(self) -> None:
        """Share claims and outcome writes of concurrent callers (the worker's window)."""
        if self._claims is None:
            self._claims = Batcher(lambda items: self._claim_group(items), name="claims")
            self._finishes = Batcher(self.finish_many, name="finishes")

    def _claim_group(self, items: list[tuple[str, str, int]]) -> list[Job | None]:
        _, owner, lease_ms = items[0]  # one process: one owner and one lease length
        return self.claim_many([job_id for job_id, _, _ in items], owner, lease_ms)

    def oldest_created(self, statuses: Iterable[Status]) -> datetime | None:
        """When the oldest job in one of `statuses` was created (None: there is none)."""
        with translated():
            doc = self._c.find_one({"status": {"$in": [s.value for s in statuses]}}, {"createdAt": 1},
                                   sort=[("createdAtMs", ASCENDING)])
        return None if doc is None else doc["createdAt"]

    def stale(self, status: Status, older_than: datetime, limit: int) -> list[str]:
        """Ids of jobs left in `status` since before `older_than`, oldest first.

        Selected by status through the index and compared by time here: few jobs sit in a
        waiting status, while a date range makes the embedded store read every document.
        """
        with translated():
            docs = self._c.find({"status": status.value}, {"updatedAt": 1}).sort("updatedAt", ASCENDING).limit(limit)
            return [str(d["_id"]) for d in docs if d["updatedAt"] < older_than]

    def expired_leases(self, limit: int) -> list[str]:
        """Ids of jobs whose sender's lease ran out (the worker died or hung mid-send)."""
        with translated():
            docs = self._c.find({"status": Status.SENDING.value, "leaseUntilMs": {"$lt": clock.epoch_ms()}}, {"_id": 1})
            return [str(d["_id"]) for d in docs.limit(limit)]

    def touch_if_stale(self, job_id: str, status: Status, older_than: datetime) -> bool:
        """Compare-and-set: bump `updatedAt` if the job is still `status` and older than
        `older_than`. Of several sweepers racing for one job exactly one gets True."""
        with translated():
            result = self._c.update_one(
                {"_id": object_id(job_id), "status": status.value, "updatedAt": {"$lt": older_than}},
                {"$currentDate": {"updatedAt": True}},
            )
        return result.modified_count == 1


class LogStore:
    """Job timelines in the `notificationlogs` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection
        self._inserts: Batcher[Doc, None] | None = None

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            self._c.create_index([("jobId", ASCENDING), ("createdAt", ASCENDING)])

    def add(self, job_id: str, event: Event, details: Doc | None = None, tenant: str | None = None) -> None:
        """Append an event to a job's timeline (with its tenant where the caller has the job)."""
        self.add_many([(job_id, event, details or {})], tenant)

    def add_many(self, entries: list[tuple[str, Event, Doc]], tenant: str | None = None) -> None:
        """Append events (job id, event, details) to their jobs' timelines in one bulk write."""
        t = clock.now()
        docs: list[Doc] = [{"jobId": job_id, "event": event.value, "details": details, "createdAt": t,
                            **({"tenant": tenant} if tenant is not None else {})}
                           for job_id, event, details in entries]
        if len(docs) == 1 and self._inserts is not None:
            self._inserts.submit(docs[0])
        elif docs:
            self._insert(docs)

    def _insert(self, docs: list[Doc]) -> list[None]:
        with translated():
            self._c.insert_many(docs, ordered=False)
        return [None] * len(docs)

    def group_writes(self) -> None:
        """Share the inserts of concurrent callers (the worker's window)."""
        if self._inserts is None:
            self._inserts = Batcher(self._insert, name="log-inserts")

    def for_job(self, job_id: str) -> list[LogEntry]:
        """A job's events, oldest first."""
        with translated():
            docs = list(self._c.find(_job_ref(job_id)).sort([("createdAt", ASCENDING), ("_id", ASCENDING)]))
        return [
            LogEntry(
                id=str(d["_id"]),
                job_id=str(d["jobId"]),
                event=Event(d["event"]),
                details=d.get("details") or {},
                created_at=d["createdAt"],
            )
            for d in docs
        ]
