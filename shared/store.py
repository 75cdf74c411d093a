"""Notification jobs in the `notificationjobs` collection, each carrying its own timeline.

Every status change and its event are one atomic update (`$set` of the status, `$push` of the
event), and each write that moves jobs between statuses also moves the tenant's counters
(shared.counters). Writes on the delivery path are made for many jobs at once.

What a job document holds and how the embedded store's quirks are absorbed: shared.jobdocs. The
delivery path's claims, outcomes and expiries are in shared.jobwrites, and the sweeper's reads in
shared.jobscans, both part of JobStore.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.collection import Collection

from shared import timeline
from shared.counters import CounterStore, Tally
from shared.errors import JobNotFound
from shared.hookmarks import Listening, Mark, Marked, add_mark
from shared.jobdocs import (
    DEFAULT_TENANT,
    NO_TIMELINE,
    Doc,
    eq,
    fingerprint,
    job_of,
    new_job_doc,
    object_id,
    own_redaction,
    priority_of,
    stored_events,
    with_entry,
)
from shared.jobpurge import JobPurge
from shared.jobscans import JobScans
from shared.jobwrites import CAS_TRIES, SUPPRESSED, Claims, JobWrites, Outcome
from shared.model import Job, LogEntry, NewJob, Priority
from shared.mongo import translated
from shared.states import Event, Status, check_move, sources_of
from shared.suppressions import SuppressionStore
from shared.timeline import Appended

JOBS = "notificationjobs"
__all__ = ["JOBS", "Claims", "JobStore", "Outcome", "Requeued", "object_id"]  # object_id: callers look ids up here
NEWEST_FIRST = [("createdAtMs", DESCENDING), ("_id", DESCENDING)]
NOTE_TRIES = 10  # duplicates of one job handled at once all note it
log = logging.getLogger("wavecom.store")


@dataclass(frozen=True)
class Requeued:
    """What a bulk retry did: the jobs now `pending` to publish (each with its lane), how many it
    moved, how many matched."""

    lanes: dict[str, Priority]
    moved: int
    matched: int


class JobStore(JobScans, JobWrites, JobPurge):
    """Jobs in the `notificationjobs` collection; their counts in `counters`. A write whose event
    a tenant's webhook wants carries its marker (`listening` says which), and `on_marked` is
    told of the markers once stored; a claim fails jobs to recipients in `suppressions`."""

    def __init__(self, collection: Collection[Doc], counters: CounterStore, listening: Listening | None = None,
                 on_marked: Marked | None = None, suppressions: SuppressionStore | None = None) -> None:
        self._c = collection
        self.counters = counters
        self.client = collection.database.client
        self.listening = listening
        self.on_marked = on_marked
        self.suppressions = suppressions

    def ensure_indexes(self) -> None:
        """Create the indexes the queries use (idempotent)."""
        with translated():
            # Newest-first listing, per tenant and per filter. (On MongoDB, `_id` as the last key
            # would also cover the tie-break; the embedded store rejects inserts once `_id` is
            # in a compound index.)
            for keys in ([], ["status"], ["type"], ["recipient"]):
                self._c.create_index([("tenant", ASCENDING), *((k, ASCENDING) for k in keys),
                                      ("createdAtMs", DESCENDING)])
            self._c.create_index([("status", ASCENDING), ("updatedAt", ASCENDING)])  # the sweeper's stale jobs
            self._c.create_index([("status", ASCENDING), ("leaseUntilMs", ASCENDING)])  # expired leases
            self._c.create_index([("status", ASCENDING), ("createdAtMs", ASCENDING)])  # oldest waiting job
            self._c.create_index([("status", ASCENDING), ("expiresAtMs", ASCENDING)])  # jobs whose time is up
            self._c.create_index([("status", ASCENDING), ("sendAtMs", ASCENDING)])  # scheduled jobs now due
            self._c.create_index([("hooksAtMs", ASCENDING)], sparse=True)  # webhook markers left behind
            self._c.create_index([("providerMessageId", ASCENDING)], sparse=True)  # receipts find their job
            # Finished jobs due for redaction (shared.jobpurge): after the setting's window, or their own.
            self._c.create_index([("status", ASCENDING), ("redacted", ASCENDING), ("updatedAt", ASCENDING)])
            self._c.create_index([("status", ASCENDING), ("redactAtMs", ASCENDING)])
        self.counters.ensure_indexes()

    # -- accepting -------------------------------------------------------------------------

    def insert_many(self, news: list[NewJob], attempts: Mapping[str, int], tenant: str = DEFAULT_TENANT) -> list[Job]:
        """Store new jobs of `tenant` in one bulk write, each with its `created` entry and the
        attempt budget of its channel (`attempts`): `scheduled` when it is to be sent later, else
        `pending`."""
        docs = [new_job_doc(new, attempts[new.type], tenant) for new in news]
        with translated():
            self._c.insert_many(docs, ordered=True)  # pymongo sets each doc's _id
        tally = Tally()
        for doc in docs:
            tally.move(tenant, None, Status(doc["status"]))
        self.counters.apply(tally)
        return [job_of(doc) for doc in docs]

    def mark_queued(self, job_ids: list[str], tenant: str, details: Doc, source: Status = Status.PENDING) -> int:
        """Move published jobs of `tenant` from `source` (`pending`; `scheduled` once due) to
        `queued` in one update, each with its `queued` entry; returns how many moved. A job a fast
        worker already claimed is left as it is."""
        check_move(source, Status.QUEUED)
        with translated():
            moved = self._c.update_many(
                {"_id": {"$in": [object_id(j) for j in job_ids]}, "status": eq(source.value)},
                {"$set": {"status": Status.QUEUED.value}, "$currentDate": {"updatedAt": True},
                 "$push": {"events": timeline.entry(Event.QUEUED, details)}},
            ).modified_count
        tally = Tally()
        tally.move(tenant, source, Status.QUEUED, moved)
        self.counters.apply(tally)
        return moved

    # -- reading ---------------------------------------------------------------------------

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """The job with this id (of `tenant`, when given), or JobNotFound.

        Another tenant's job is "not found", never "forbidden": its existence is not revealed.
        """
        scope = {} if tenant is None else {"tenant": eq(tenant)}
        with translated():
            doc = self._c.find_one({"_id": object_id(job_id), **scope}, NO_TIMELINE)
        if doc is None:
            raise JobNotFound(job_id)
        return job_of(doc)

    def timeline(self, job_id: str, tenant: str | None = None) -> list[LogEntry]:
        """The job's events, oldest first, as log entries; JobNotFound as `get`."""
        scope = {} if tenant is None else {"tenant": eq(tenant)}
        with translated():
            doc = self._c.find_one({"_id": object_id(job_id), **scope}, {"events": 1, "eventsDropped": 1})
        if doc is None:
            raise JobNotFound(job_id)
        return timeline.log_entries(job_id, stored_events(doc.get("events")), int(doc.get("eventsDropped") or 0))

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
        second (tests/integration/test_store_gaps.py). A cursor is read as two ranges, the rest
        of its millisecond and then everything older, because an `$or` of the two would make
        the embedded store read every document; every query here is answered from an index.
        """
        base: Doc = {"tenant": eq(tenant), **{k: eq(v) for k, v in filters.items()}}
        floor = {} if since_ms is None else {"$gte": since_ms}
        docs: list[Doc] = []
        with translated():
            if after is not None:
                created, job_id = after
                if since_ms is None or created >= since_ms:
                    # The rest of the cursor's millisecond, compared by id here: a range on `_id`
                    # makes the embedded store read every document. Few jobs share a millisecond.
                    cutoff = object_id(job_id)
                    same_ms = self._c.find({**base, "createdAtMs": eq(created)}, NO_TIMELINE).sort(NEWEST_FIRST)
                    docs = [d for d in same_ms if d["_id"] < cutoff][:limit]
                floor = {**floor, "$lt": created}
            if len(docs) < limit:
                older = {**base, **({"createdAtMs": floor} if floor else {})}
                docs += list(self._c.find(older, NO_TIMELINE).sort(NEWEST_FIRST).limit(limit - len(docs)))
        return [job_of(d) for d in docs]

    def count_by_status(self, tenant: str) -> dict[str, int]:
        """How many of a tenant's jobs are in each status present, counted now: one aggregation
        over the tenant's jobs, for reconciling the counters off the hot path (never on a request).
        Grouped per tenant because the embedded store cannot group on a compound key."""
        with translated():
            rows = self._c.aggregate([{"$match": {"tenant": eq(tenant)}},
                                      {"$group": {"_id": "$status", "n": {"$sum": 1}}}])
            return {str(r["_id"]): int(r["n"]) for r in rows if r["_id"] in {s.value for s in Status}}

    # -- by hand, by the sweeper -----------------------------------------------------------

    def retry_failed(self, tenant: str, filters: Doc, since_ms: int | None, limit: int,
                     details: Doc) -> Requeued:
        """Move up to `limit` of a tenant's `failed` jobs matching `filters` (newest first) back to
        `pending`, each with a fresh attempt budget and a `retry_requested` entry carrying
        `details`: one read and one bulk write of compare-and-sets on (status, attempts). How many
        matched in all is counted only when there may be more than `limit` (0: count only). Jobs
        that failed because their recipient is suppressed, and redacted ones, are skipped."""
        check_move(Status.FAILED, Status.PENDING)
        where: Doc = {"tenant": eq(tenant), **{k: eq(v) for k, v in filters.items()}, "status": eq(Status.FAILED.value)}
        if since_ms is not None:
            where["createdAtMs"] = {"$gte": since_ms}
        with translated():
            docs = list(self._c.find(where, {"attempts": 1, "maxAttempts": 1, "attemptBudget": 1, "priority": 1,
                                             "events": 1, "lastError": 1, "redacted": 1})
                        .sort(NEWEST_FIRST).limit(limit)) if limit > 0 else []
            matched = len(docs) if len(docs) < limit else self._c.count_documents(where)
        # A job that failed because its recipient is suppressed would only fail again, and a
        # redacted one has no message left: both are left out.
        kept = [d for d in docs if not str(d.get("lastError") or "").startswith(SUPPRESSED) and not d.get("redacted")]
        matched, docs = matched - (len(docs) - len(kept)), kept
        ops = []
        for doc in docs:
            budget = int(doc.get("attemptBudget") or doc["maxAttempts"])
            match: Doc = {"_id": doc["_id"], "status": eq(Status.FAILED.value), "attempts": eq(doc.get("attempts", 0))}
            update: Doc = {"$set": {"status": Status.PENDING.value}, "$inc": {"maxAttempts": budget},
                           "$currentDate": {"updatedAt": True}}
            entry = timeline.entry(Event.RETRY_REQUESTED, {"maxAttempts": int(doc["maxAttempts"]) + budget, **details})
            with_entry(match, update, doc.get("events") or [], entry)
            ops.append(UpdateOne(match, update))
        if not ops:
            return Requeued({}, 0, matched)
        with translated():
            moved = self._c.bulk_write(ops, ordered=False).modified_count
            ids = [d["_id"] for d in docs]
            if moved < len(ops):  # some changed under us: those now pending are the ones to queue
                ids = [d["_id"] for d in self._c.find({"_id": {"$in": ids}, "status": eq(Status.PENDING.value)},
                                                      {"_id": 1})]
        tally = Tally()
        tally.move(tenant, Status.FAILED, Status.PENDING, moved)
        self.counters.apply(tally)
        lanes = {str(d["_id"]): priority_of(d) for d in docs}
        return Requeued({str(i): lanes[str(i)] for i in ids}, moved, matched)

    def move(
        self,
        job_id: str,
        target: Status,
        new: Doc,
        *,
        sources: Iterable[Status] | None = None,
        where: Doc | None = None,
        fields: Doc | None = None,
        inc: Doc | None = None,
        unset: Iterable[str] = (),
        tenant: str | None = None,
    ) -> Job | None:
        """Move a job to `target` with the entry `new`, if it is in one of `sources` (default:
        every status the state machine allows) and matches `where`: one compare-and-set on the
        status read, so the counters move exactly. JobNotFound if there is no such job (of
        `tenant`); None when the job is not in a state that allows the move."""
        allowed = frozenset(sources) if sources is not None else sources_of(target)
        for source in allowed:
            check_move(source, target)
        scope = {} if tenant is None else {"tenant": eq(tenant)}
        for _ in range(CAS_TRIES):
            with translated():
                doc = self._c.find_one({"_id": object_id(job_id), **scope})
            if doc is None:
                raise JobNotFound(job_id)
            source = Status(doc["status"])
            if source not in allowed:
                return None
            match: Doc = {"_id": doc["_id"], "status": eq(source.value), "attempts": eq(doc.get("attempts", 0)),
                          **(where or {})}
            update: Doc = {"$set": {"status": target.value, **(fields or {})}, "$currentDate": {"updatedAt": True}}
            if inc:
                update["$inc"] = dict(inc)
            if unset:
                update["$unset"] = {name: "" for name in unset}
            with_entry(match, update, doc.get("events") or [], new)
            own_redaction(update, target, doc.get("redactAfterSeconds"))
            tenant_of = str(doc.get("tenant", DEFAULT_TENANT))
            mark = self.marked(update, tenant_of, target)
            with translated():
                after = self._c.find_one_and_update(match, update, NO_TIMELINE, return_document=ReturnDocument.AFTER)
            if after is not None:
                tally = Tally()
                tally.move(tenant_of, source, target)
                self.counters.apply(tally)
                self.announce([(job_id, mark)] if mark else [])
                return job_of(after)
        return None

    def note(self, job_id: str, new: Doc, known: Doc | None = None, mark: Mark | None = None) -> bool:
        """Add an entry that changes no status (a duplicate skipped, a late outcome, a message
        dead-lettered, a receipt), folding and bounding the timeline; `known` is the job as just
        read, if it was; `mark`, a webhook marker written with it. False when there is no such
        job, or it kept changing under every try."""
        done = self._rewrite_timeline(job_id, lambda events: timeline.append(events, new), known, NOTE_TRIES, mark)
        if done is False:
            log.warning("timeline entry not added: the job kept changing", extra={"job_id": job_id, "event": new["event"]})
        elif done and mark:
            self.announce([(job_id, mark)])
        return bool(done)

    def merge_timeline(self, job_id: str, entries: list[Doc]) -> bool:
        """Add entries kept elsewhere (an earlier release's log collection) to a job's timeline,
        in time order, leaving out those it already has; JobNotFound if there is no such job,
        False when it kept changing under every try."""
        def merged(events: list[Doc]) -> Appended | None:
            seen = {fingerprint(e) for e in events}
            missing = [e for e in entries if fingerprint(e) not in seen]
            return timeline.trimmed(sorted([*events, *missing], key=lambda e: e["at"])) if missing else None

        done = self._rewrite_timeline(job_id, merged)
        if done is None:
            raise JobNotFound(job_id)
        return done

    def _rewrite_timeline(self, job_id: str, change: Callable[[list[Doc]], Appended | None],
                          known: Doc | None = None, tries: int = CAS_TRIES, mark: Mark | None = None) -> bool | None:
        """Set a job's timeline to `change(timeline)` (None: leave it as it is), by a
        compare-and-set on its length, which pushes change, and on `notes`, the count of rewrites
        (a fold leaves the length as it was). True once done or when nothing was to change, None
        when there is no such job, False when it kept changing under every try."""
        doc = known
        for _ in range(tries):
            if doc is None:
                with translated():
                    doc = self._c.find_one({"_id": object_id(job_id)}, {"events": 1, "notes": 1})
                if doc is None:
                    return None
            stored = doc.get("events")
            after = change(stored_events(stored))
            if after is None:
                return True
            notes = doc.get("notes")
            where = {"_id": doc["_id"], "events": {"$exists": False} if stored is None else {"$size": len(stored)},
                     "notes": {"$exists": False} if notes is None else eq(notes)}
            update: Doc = {"$set": {"events": after.events}, "$inc": {"notes": 1}}
            if after.dropped:
                update["$inc"]["eventsDropped"] = after.dropped
            if mark:
                add_mark(update, mark)
            with translated():
                if self._c.update_one(where, update).modified_count:
                    return True
            doc = None
        return False

    def drop_fields(self, names: Iterable[str]) -> int:
        """Remove fields nothing reads any more from every job; how many jobs changed."""
        with translated():
            return sum(self._c.update_many({name: {"$exists": True}}, {"$unset": {name: ""}}).modified_count
                       for name in names)

    def tenants(self) -> list[str]:
        """Every tenant that has jobs (a scan: for migrations, never on a request)."""
        with translated():
            return sorted(str(t) for t in self._c.distinct("tenant"))
