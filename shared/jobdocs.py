"""A job as a MongoDB document: its fields, its embedded timeline as stored, and the query forms
both MongoDB and the embedded store answer from an index.

Two quirks of the embedded store are absorbed here and nowhere else (each is recorded in
tests/integration/test_store_gaps.py): it keeps `$push`ed sub-documents as JSON text, so
timelines are read back through `stored_events`; and it answers implicit equality
(`{field: value}`) by reading every document, so equality on indexed fields is written with
`eq` (`$eq`), which MongoDB treats the same way and the embedded store answers from the index.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from shared import clock, timeline
from shared.errors import JobNotFound
from shared.masking import mask_recipient
from shared.model import Job, NewJob, Priority
from shared.states import TERMINAL, Event, Status

Doc = dict[str, Any]
DEFAULT_TENANT = "default"
NO_TIMELINE = {"events": 0}  # the projection of reads that do not need the timeline
# A job not redacted: `redacted: 0`, or no `redacted` yet (a job with its own window). Not
# `$ne: 1`, which the embedded store's update filters miss on a missing field (test_store_gaps.py).
UNREDACTED: dict[str, Any] = {"$in": [0, None]}


def object_id(job_id: str) -> ObjectId:
    """The ObjectId of a job id, or JobNotFound when it cannot be one."""
    try:
        return ObjectId(job_id)
    except (InvalidId, TypeError):
        raise JobNotFound(job_id) from None


def eq(value: Any) -> Doc:
    """Equality on a scalar field, in the form both stores answer from an index."""
    return {"$eq": value}


def _dates(obj: Doc) -> Any:
    """A JSON object as MongoDB returns it: the embedded store's `{"$date": ...}` text (UTC, no
    zone) becomes a datetime."""
    if len(obj) == 1 and isinstance(obj.get("$date"), str):
        t = datetime.fromisoformat(obj["$date"])
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return obj


def stored_events(raw: Any) -> list[Doc]:
    """A stored timeline in MongoDB's shape: entries the embedded store kept as JSON text are
    parsed back."""
    return [json.loads(item, object_hook=_dates) if isinstance(item, str) else item for item in raw or []]


def priority_of(doc: Doc) -> Priority:
    """A job document's lane (the field is kept only for `high` and `low`)."""
    return Priority(doc.get("priority") or Priority.NORMAL)


def job_of(doc: Doc) -> Job:
    """The job a stored document holds."""
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
        priority=priority_of(doc),
        send_at=doc.get("sendAt"),
        expires_at=doc.get("expiresAt"),
        ttl_seconds=doc.get("ttlSeconds"),
        redact_after_seconds=doc.get("redactAfterSeconds"),
        redacted=bool(doc.get("redacted")),
    )


def with_entry(where: Doc, update: Doc, stored: list[Any], new: Doc, room: int = 1) -> None:
    """Add `new` to the update: pushed while the stored timeline has room for `room` entries,
    else the trimmed timeline is set whole, guarded by its length so no concurrent entry is
    lost. (Only then is the stored timeline parsed.)"""
    if timeline.fits(stored, room):
        update["$push"] = {"events": new}
        return
    cut = timeline.trimmed(stored_events(stored), room)
    update.setdefault("$set", {})["events"] = [*cut.events, new]
    update.setdefault("$inc", {})["eventsDropped"] = cut.dropped
    where["events"] = {"$size": len(stored)}


def own_redaction(update: Doc, target: Status, window_s: int | None) -> None:
    """Put into a move's update when a job with its own redaction window is due for redaction:
    that window after the move that ends it (shared.jobpurge finds it from an index on
    (status, `redactAtMs`)); nothing for a job without one, or a move that does not end it."""
    if window_s is not None and target in TERMINAL:
        update.setdefault("$set", {})["redactAtMs"] = clock.epoch_ms() + window_s * 1000


def new_job_doc(new: NewJob, max_attempts: int, tenant: str) -> Doc:
    """The document of a new job with its `created` entry: `scheduled` (with its `scheduled`
    entry) when it is to be sent later, else `pending`. Its times are kept as dates for the API
    and as epoch milliseconds for the sweeper's and the claim's comparisons."""
    t = clock.now()
    created = timeline.entry(Event.CREATED, {"type": new.type, "recipient": mask_recipient(new.recipient)}, t)
    doc: Doc = {
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
        "events": [created],
    }
    if new.priority is not Priority.NORMAL:  # absent: normal
        doc["priority"] = new.priority.value
    if new.expires_at is not None:
        doc |= {"expiresAt": new.expires_at, "expiresAtMs": clock.epoch_ms_of(new.expires_at)}
    if new.ttl_seconds is not None:
        doc["ttlSeconds"] = new.ttl_seconds
    if new.redact_after_seconds is None:
        doc["redacted"] = 0  # an integer both stores index and compare alike (1 once redacted)
    else:  # its own window: due at `redactAtMs`, set when the job ends (`own_redaction`)
        doc["redactAfterSeconds"] = new.redact_after_seconds
    if new.send_at is not None and new.send_at > t:
        doc |= {"status": Status.SCHEDULED.value, "sendAt": new.send_at, "sendAtMs": clock.epoch_ms_of(new.send_at)}
        doc["events"].append(timeline.entry(Event.SCHEDULED, {"sendAt": clock.iso(new.send_at)}, t))
    return doc


def fingerprint(entry: Doc) -> tuple[str, str, str]:
    """What makes two timeline entries the same: event, time, details."""
    return entry["event"], clock.iso(entry["at"]), json.dumps(entry.get("details") or {}, sort_keys=True, default=str)


def same_entry(stored: Doc, mine: Doc) -> bool:
    """Whether a stored timeline entry is this attempt's outcome entry."""
    return bool(stored.get("event") == mine["event"]
                and stored.get("details", {}).get("attempt") == mine["details"]["attempt"])
