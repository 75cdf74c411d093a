"""The delivery path's writes to `notificationjobs`: claims under a lease, outcomes fenced by it,
and expiries, each batched across many jobs. Part of shared.store.JobStore (a mixin, to keep each
module small); what a job document holds is shared.jobdocs.

A claim reads the jobs and decides for each, by shared.deadlines.verdict, whether to claim it,
expire it or leave it; a job left because its provider could not take it yet (`route` gave no
provider: no token of its rate) is `deferred`, untouched, for the caller to claim later.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pymongo import UpdateOne
from pymongo.collection import Collection

from shared import clock, timeline
from shared.counters import CounterStore, Tally
from shared.deadlines import Verdict, verdict
from shared.hookmarks import Mark
from shared.jobdocs import (
    DEFAULT_TENANT,
    Doc,
    eq,
    fingerprint,
    job_of,
    object_id,
    own_redaction,
    same_entry,
    stored_events,
    with_entry,
)
from shared.jobmarks import JobMarks
from shared.model import Job
from shared.mongo import translated
from shared.states import Event, Status, check_move
from shared.suppressions import SuppressionStore

CAS_TRIES = 3  # a job changing under a compare-and-set this often in a row is left to the caller
EXPIRED_REASON = "expiresAt passed before it was handed to a provider"
SUPPRESSED = "suppressed"  # how the `lastError` of a job to a suppressed recipient starts
SUPPRESSED_BECAUSE = {"bounce": "the recipient hard-bounced before", "complaint": "the recipient complained before",
                      "manual": "the recipient is on the suppression list"}
Route = Callable[[str, str], "str | None"]  # (job id, channel) -> its attempt's provider; None: not yet


@dataclass(frozen=True)
class Claims:
    """What a claim found: jobs now held under the lease (each with its attempt's provider), jobs
    no claim may take now (finished, held by another lease, or not yet due) with their timelines,
    jobs it ended `expired`, and jobs left for later because their provider could not take them
    yet. Ids of no job are in none of them."""

    claimed: dict[str, Job]
    busy: dict[str, Doc]
    expired: set[str] = field(default_factory=set)
    deferred: list[str] = field(default_factory=list)
    suppressed: set[str] = field(default_factory=set)  # ended `failed` with no provider call


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt, to be stored under the attempt's lease."""

    job: Job
    target: Status
    entry: Doc
    fields: Doc


def expired_entry(doc: Doc, **details: object) -> Doc:
    """The `expired` entry of a job whose time ran out."""
    at = doc.get("expiresAt")
    return timeline.entry(Event.EXPIRED, {"reason": EXPIRED_REASON, **({"expiresAt": clock.iso(at)} if at else {}),
                                          **details})


def suppressed_entry(reason: str) -> tuple[Doc, str]:
    """The `suppressed` entry of a job to a suppressed recipient, and its `lastError`."""
    because = SUPPRESSED_BECAUSE.get(reason, SUPPRESSED_BECAUSE["manual"])
    error = f"{SUPPRESSED}: {because}"
    return timeline.entry(Event.SUPPRESSED, {"reason": reason, "error": error}), error


class JobWrites(JobMarks):
    """Claims, outcomes and expiries of jobs (needs `_c`, the collection, `counters`,
    `suppressions`, and the markers of shared.jobmarks)."""

    _c: Collection[Doc]
    counters: CounterStore
    suppressions: SuppressionStore | None

    def claim_many(self, job_ids: list[str], owner: str, lease_ms: int, route: Route | None = None) -> Claims:
        """Claim jobs for one delivery attempt each, under a lease: one read and one bulk write.

        Each claim is a compare-and-set on the status and attempt count just read, so the
        status a job leaves is known exactly (for the counters) and its `sending` entry names
        its attempt and, with `route`, its provider. A job whose time is up ends `expired` in the
        same bulk write instead. A job that changed in between is read and tried again. The lease
        owner is `owner` plus a token of this call. `route` is asked once per job.
        """
        token = f"{owner}:{uuid.uuid4().hex[:8]}"
        now_ms = clock.epoch_ms()
        claimed: dict[str, Job] = {}
        busy: dict[str, Doc] = {}
        expired: set[str] = set()
        deferred: list[str] = []
        routed: dict[str, str | None] = {}
        suppressed: set[str] = set()
        marks: dict[str, Mark] = {}
        reasons: dict[str, str] = {}  # job id -> why its recipient is suppressed
        looked_up: set[str] = set()
        tally = Tally()
        wanted = list(dict.fromkeys(job_ids))
        tries: dict[str, tuple[Doc, Doc]] = {}
        for _ in range(CAS_TRIES):
            with translated():
                docs = list(self._c.find({"_id": {"$in": [object_id(j) for j in wanted]}}))
            verdicts = {str(d["_id"]): verdict(Status(d["status"]), d.get("sendAtMs"), d.get("expiresAtMs"), now_ms)
                        for d in docs}
            reasons |= self._suppressed([d for d in docs if verdicts[str(d["_id"])] is Verdict.CLAIM
                                         and str(d["_id"]) not in looked_up])
            looked_up |= set(verdicts)
            tries = {}
            ops = []
            for doc in docs:
                job_id = str(doc["_id"])
                decided = verdicts[job_id]
                if decided is Verdict.BUSY:
                    busy[job_id] = doc
                    continue
                attempt = int(doc.get("attempts", 0)) + 1
                where: Doc = {"_id": doc["_id"], "status": eq(doc["status"]), "attempts": eq(attempt - 1)}
                tenant = str(doc.get("tenant", DEFAULT_TENANT))
                if decided is Verdict.EXPIRE or job_id in reasons:
                    if decided is Verdict.EXPIRE:
                        entry, target, fields = expired_entry(doc), Status.EXPIRED, {}
                    else:
                        entry, error = suppressed_entry(reasons[job_id])
                        target, fields = Status.FAILED, {"lastError": error}
                    update: Doc = {"$set": {"status": target.value, **fields}, "$currentDate": {"updatedAt": True}}
                    with_entry(where, update, doc.get("events") or [], entry)
                    own_redaction(update, target, doc.get("redactAfterSeconds"))
                    if mark := self.marked(update, tenant, target):
                        marks[job_id] = mark
                else:
                    if job_id not in routed:
                        routed[job_id] = route(job_id, doc["type"]) if route is not None else None
                    provider = routed[job_id]
                    if route is not None and provider is None:
                        deferred.append(job_id)
                        continue
                    entry = timeline.entry(Event.SENDING, {"attempt": attempt, "worker": owner,
                                                           **({"provider": provider} if provider else {})})
                    update = {"$set": {"status": Status.SENDING.value, "leaseOwner": token,
                                       "leaseUntilMs": now_ms + lease_ms},
                              "$inc": {"attempts": 1}, "$currentDate": {"updatedAt": True}}
                    with_entry(where, update, doc.get("events") or [], entry, room=timeline.CLAIM_ROOM)
                ops.append(UpdateOne(where, update))
                tries[job_id] = (doc, entry)
            if not ops:
                break
            won = self._took(ops, tries, token)
            for job_id in won:
                doc, entry = tries[job_id]
                source, tenant = Status(doc["status"]), str(doc.get("tenant", DEFAULT_TENANT))
                if entry["event"] == Event.EXPIRED.value:
                    expired.add(job_id)
                    tally.move(tenant, source, Status.EXPIRED, at_s=int(entry["at"].timestamp()))
                    continue
                if entry["event"] == Event.SUPPRESSED.value:
                    suppressed.add(job_id)
                    tally.move(tenant, source, Status.FAILED, at_s=int(entry["at"].timestamp()))
                    continue
                job = job_of({**doc, "status": Status.SENDING.value, "attempts": int(doc.get("attempts", 0)) + 1,
                              "leaseOwner": token})
                claimed[job_id] = dataclasses.replace(job, provider=routed.get(job_id))
                tally.move(tenant, source, Status.SENDING)
            wanted = [j for j in tries if j not in won]
            if not wanted:
                break
        else:  # still changing under us after every try: someone else is acting on these now
            busy.update({j: doc for j, (doc, _) in tries.items() if j in wanted})
        self.counters.apply(tally)
        self.announce([(j, m) for j, m in marks.items() if j in expired | suppressed])
        return Claims(claimed, busy, expired, deferred, suppressed)

    def _suppressed(self, docs: list[Doc]) -> dict[str, str]:
        """Which of these jobs go to a recipient their tenant suppressed, and why: one read for
        the whole claim, whatever its size."""
        if self.suppressions is None or not docs:
            return {}
        pairs = {str(d["_id"]): (str(d.get("tenant", DEFAULT_TENANT)), str(d["recipient"])) for d in docs}
        found = self.suppressions.suppressed(pairs.values())
        return {job_id: found[pair] for job_id, pair in pairs.items() if pair in found}

    def _took(self, ops: list[UpdateOne], tries: dict[str, tuple[Doc, Doc]], token: str) -> set[str]:
        """Send a claim's compare-and-sets; which took: all, or (when some did not) those whose
        lease is ours and those whose `expired` entry is ours."""
        with translated():
            if self._c.bulk_write(ops, ordered=False).modified_count == len(ops):
                return set(tries)
            after = {str(d["_id"]): d for d in self._c.find(
                {"_id": {"$in": [doc["_id"] for doc, _ in tries.values()]}}, {"leaseOwner": 1, "events": 1})}
        won = set()
        for job_id, (_, entry) in tries.items():
            doc = after.get(job_id, {})
            if entry["event"] == Event.SENDING.value:
                if doc.get("leaseOwner") == token:
                    won.add(job_id)
            elif fingerprint(entry) in {fingerprint(e) for e in stored_events(doc.get("events"))}:
                won.add(job_id)
        return won

    def finish_many(self, outcomes: list[Outcome]) -> list[bool]:
        """Store attempts' outcomes, each with its entry, in one bulk write; each is applied
        only while its own lease still holds the job. Returns which were stored."""
        for outcome in outcomes:
            check_move(Status.SENDING, outcome.target)
        marks: dict[str, Mark] = {}
        ops = []
        for o in outcomes:
            update: Doc = {"$set": {"status": o.target.value, **o.fields}, "$unset": {"leaseOwner": "", "leaseUntilMs": ""},
                           "$currentDate": {"updatedAt": True}, "$push": {"events": o.entry}}
            own_redaction(update, o.target, o.job.redact_after_seconds)
            if mark := self.marked(update, o.job.tenant, o.target):
                marks[o.job.id] = mark
            ops.append(UpdateOne({"_id": object_id(o.job.id), "status": eq(Status.SENDING.value),
                                  "leaseOwner": eq(o.job.lease_owner)}, update))
        with translated():
            matched = self._c.bulk_write(ops, ordered=False).matched_count if ops else 0
            if matched == len(ops):
                stored = [True] * len(ops)
            else:  # some leases had moved on: an outcome was stored if its entry is there
                docs = {str(d["_id"]): stored_events(d.get("events")) for d in self._c.find(
                    {"_id": {"$in": [object_id(o.job.id) for o in outcomes]}}, {"events": 1})}
                stored = [any(same_entry(e, o.entry) for e in docs.get(o.job.id, [])) for o in outcomes]
        tally = Tally()
        for outcome, done in zip(outcomes, stored, strict=True):
            if done:
                tally.move(outcome.job.tenant, Status.SENDING, outcome.target, at_s=int(outcome.entry["at"].timestamp()))
        self.counters.apply(tally)
        self.announce([(o.job.id, marks[o.job.id]) for o, done in zip(outcomes, stored, strict=True)
                       if done and o.job.id in marks])
        return stored

    def expire_due(self, status: Status, limit: int) -> list[str]:
        """End `expired` the jobs waiting in `status` whose `expiresAt` has passed (at most `limit`): one read and one bulk write of compare-and-sets on the status and
        attempts read. Returns the ids this call expired."""
        check_move(status, Status.EXPIRED)
        now_ms = clock.epoch_ms()
        with translated():
            docs = list(self._c.find({"status": eq(status.value), "expiresAtMs": {"$lte": now_ms}},
                                     {"status": 1, "attempts": 1, "tenant": 1, "events": 1, "expiresAt": 1,
                                      "redactAfterSeconds": 1})
                        .limit(limit))
        tries: dict[str, tuple[Doc, Doc]] = {}
        marks: dict[str, Mark] = {}
        ops = []
        for doc in docs:
            entry = expired_entry(doc)
            where: Doc = {"_id": doc["_id"], "status": eq(status.value), "attempts": eq(doc.get("attempts", 0))}
            update: Doc = {"$set": {"status": Status.EXPIRED.value}, "$currentDate": {"updatedAt": True}}
            with_entry(where, update, doc.get("events") or [], entry)
            own_redaction(update, Status.EXPIRED, doc.get("redactAfterSeconds"))
            if mark := self.marked(update, str(doc.get("tenant", DEFAULT_TENANT)), Status.EXPIRED):
                marks[str(doc["_id"])] = mark
            ops.append(UpdateOne(where, update))
            tries[str(doc["_id"])] = (doc, entry)
        won = self._took(ops, tries, "") if ops else set()
        tally = Tally()
        for job_id in won:
            doc, entry = tries[job_id]
            tally.move(str(doc.get("tenant", DEFAULT_TENANT)), status, Status.EXPIRED, at_s=int(entry["at"].timestamp()))
        self.counters.apply(tally)
        self.announce([(j, m) for j, m in marks.items() if j in won])
        return sorted(won)
