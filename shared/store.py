"""The two collections: notification jobs and their log entries."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection

from shared import clock
from shared.errors import JobNotFound
from shared.model import Job, LogEntry, NewJob
from shared.mongo import translated
from shared.states import Event, Status, sources_of

Doc = dict[str, Any]
JOBS = "notificationjobs"
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
        last_error=doc.get("lastError"),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


class JobStore:
    """Jobs in the `notificationjobs` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection
        self.client = collection.database.client

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            # Newest-first listing. (On MongoDB, ("createdAt", -1), ("_id", -1) would also cover the
            # tie-break; the embedded store rejects inserts once `_id` is in a compound index.)
            self._c.create_index([("createdAt", DESCENDING)])
            self._c.create_index([("status", ASCENDING), ("updatedAt", ASCENDING)])

    def insert(self, new: NewJob, max_attempts: int) -> Job:
        """Store a new `pending` job."""
        t = clock.now()
        doc: Doc = {
            "type": new.type,
            "recipient": new.recipient,
            "message": new.message,
            "metadata": new.metadata,
            "status": Status.PENDING.value,
            "attempts": 0,
            "maxAttempts": max_attempts,
            "lastError": None,
            "createdAt": t,
            "updatedAt": t,
            "__v": 0,
        }
        with translated():
            result = self._c.insert_one(doc)
        doc["_id"] = result.inserted_id
        return _job(doc)

    def get(self, job_id: str) -> Job:
        """The job with this id, or JobNotFound."""
        oid = object_id(job_id)
        with translated():
            doc = self._c.find_one({"_id": oid})
        if doc is None:
            raise JobNotFound(job_id)
        return _job(doc)

    def latest(self, limit: int = 100) -> list[Job]:
        """The newest jobs first."""
        with translated():
            docs = list(self._c.find().sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).limit(limit))
        return [_job(d) for d in docs]

    def move(
        self, job_id: str, target: Status, *, fields: Doc | None = None, inc: Doc | None = None
    ) -> Job | None:
        """Move a job to `target` if its status allows it (one atomic conditional update).

        Returns the updated job, or None when the job's status did not allow the move.
        """
        # $currentDate, not $set: the server's clock, and the embedded store stores a $set of a
        # top-level datetime as a string (tests/integration/test_store_gaps.py).
        update: Doc = {"$set": {"status": target.value, **(fields or {})}, "$currentDate": {"updatedAt": True}}
        if inc:
            update["$inc"] = inc
        allowed = [s.value for s in sources_of(target)]
        with translated():
            doc = self._c.find_one_and_update(
                {"_id": object_id(job_id), "status": {"$in": allowed}},
                update,
                return_document=ReturnDocument.AFTER,
            )
        return None if doc is None else _job(doc)


class LogStore:
    """Job timelines in the `notificationlogs` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            self._c.create_index([("jobId", ASCENDING), ("createdAt", ASCENDING)])

    def add(self, job_id: str, event: Event, details: Doc | None = None) -> None:
        """Append an event to a job's timeline."""
        with translated():
            self._c.insert_one(
                {"jobId": job_id, "event": event.value, "details": details or {}, "createdAt": clock.now()}
            )

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
