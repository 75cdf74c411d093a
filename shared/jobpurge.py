"""The personal-data lifecycle's writes to `notificationjobs`: redaction (the message and
metadata erased, the recipient masked, or for an erasure replaced by its keyed hash) and
deletion once retention ends, in bounded batches. Part of shared.store.JobStore (a mixin).

A job without its own window carries `redacted: 0` until it is redacted (1), and one setting's
window applies to all of them, so those due are the oldest updates of an index on (status,
`redacted`, updatedAt). A job with its own `redactAfterSeconds` carries, from the move that ends
it, the time it is due (`redactAtMs`, shared.jobdocs.own_redaction) and no `redacted` until it is
redacted; those due are the smallest of an index on (status, `redactAtMs`). Either way a batch
holds only jobs that are due, so none waits behind one that is not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.collection import Collection

from shared import clock, timeline
from shared.counters import CounterStore, Tally
from shared.jobdocs import DEFAULT_TENANT, UNREDACTED, Doc, eq, stored_events
from shared.masking import mask_recipient
from shared.mongo import translated
from shared.states import TERMINAL, Event, Status

MOVE_FIELDS = {"status": 1, "tenant": 1, "updatedAt": 1, "attempts": 1}  # a compare-and-set's and the counters'
REDACT_FIELDS = {**MOVE_FIELDS, "recipient": 1}
ERASE_FIELDS = {**REDACT_FIELDS, "events": 1}  # an erasure scrubs the timeline too


def _ms(doc: Doc) -> int:
    return clock.epoch_ms_of(doc["updatedAt"])


class JobPurge:
    """Redaction and deletion of finished jobs (needs `_c` and `counters`)."""

    _c: Collection[Doc]
    counters: CounterStore

    def _oldest_due(self, query: Doc, is_due: Callable[[Doc], bool], fields: Doc, limit: int) -> list[Doc]:
        """The jobs of `query` that are due, oldest update first, where one window applies to
        all of them (so those due come first): a read of the oldest alone when none is."""
        if not any(is_due(d) for d in self._c.find(query, {"updatedAt": 1}).sort("updatedAt", 1).limit(1)):
            return []
        return list(itertools.takewhile(is_due, self._c.find(query, fields).sort("updatedAt", 1).limit(limit)))

    def redaction_due(self, now_ms: int, default_ms: int, limit: int) -> list[Doc]:
        """Finished jobs due for redaction: those without their own window last updated
        `default_ms` ago or more, and those whose own window has passed since they ended; at most
        `limit` of each kind a status."""
        due: list[Doc] = []
        with translated():
            for status in sorted(TERMINAL):
                due += self._oldest_due({"status": eq(status.value), "redacted": eq(0)},
                                        lambda d: _ms(d) + default_ms <= now_ms, REDACT_FIELDS, limit)
                due += self._c.find({"status": eq(status.value), "redactAtMs": {"$lte": now_ms}}, REDACT_FIELDS) \
                    .sort("redactAtMs", 1).limit(limit)
        return due

    def redact(self, docs: list[Doc], details: Doc, recipient: Callable[[str], str] = mask_recipient,
               scrub: bool = False) -> list[str]:
        """Erase these jobs' message and metadata, replace their recipient by `recipient(it)`, add
        a `redacted` entry with `details`; with `scrub`, the timeline's entries lose what they said
        of the recipient too. One bulk write of compare-and-sets on status and attempts; the ids
        of the jobs it redacted."""
        ops: list[UpdateOne] = []
        for doc in docs:
            entry = timeline.entry(Event.REDACTED, details)
            where: Doc = {"_id": doc["_id"], "status": eq(doc["status"]), "attempts": eq(doc.get("attempts", 0)),
                          "redacted": UNREDACTED}
            update: Doc = {"$set": {"message": None, "metadata": {}, "recipient": recipient(str(doc["recipient"])),
                                    "redacted": 1},
                           "$unset": {"redactAtMs": ""}}  # `updatedAt` stays: retention counts from the job's end
            stored = doc.get("events") or []
            if scrub:
                kept = [{**e, "details": {k: v for k, v in (e.get("details") or {}).items() if k != "recipient"}}
                        for e in stored_events(stored)]
                update["$set"]["events"] = [*kept, entry]
                where["events"] = {"$size": len(stored)}
            else:
                update["$push"] = {"events": entry}
            ops.append(UpdateOne(where, update))
        if not ops:
            return []
        with translated():
            if self._c.bulk_write(ops, ordered=False).modified_count == len(ops):
                return [str(d["_id"]) for d in docs]
            # Some had changed meanwhile: which are redacted now is read back.
            return [str(d["_id"]) for d in self._c.find({"_id": {"$in": [d["_id"] for d in docs]}, "redacted": eq(1)},
                                                         {"_id": 1})]

    def retention_due(self, cutoff_ms: int, limit: int, tenant: str | None = None) -> list[Doc]:
        """Finished jobs (of `tenant`, when given) last updated before `cutoff_ms`, oldest first."""
        due: list[Doc] = []
        with translated():
            for status in sorted(TERMINAL):
                if tenant is None:
                    due += self._oldest_due({"status": eq(status.value)}, lambda d: _ms(d) < cutoff_ms,
                                            MOVE_FIELDS, limit)
                else:  # a tenant's own, shorter retention: its jobs in order of creation
                    cursor = self._c.find({"tenant": eq(tenant), "status": eq(status.value)}, MOVE_FIELDS) \
                        .sort("createdAtMs", 1).limit(limit)
                    due += [d for d in cursor if _ms(d) < cutoff_ms]
        return due

    def delete_finished(self, docs: list[Doc]) -> list[str]:
        """Delete finished jobs, each only while it is still in the status read, moving the
        counters; the ids deleted."""
        ops: list[Any] = [DeleteOne({"_id": d["_id"], "status": eq(d["status"]), "attempts": eq(d.get("attempts", 0))})
                          for d in docs]
        if not ops:
            return []
        with translated():
            if self._c.bulk_write(ops, ordered=False).deleted_count == len(ops):
                left: set[str] = set()
            else:  # some had changed meanwhile: which are still there is read back
                left = {str(d["_id"]) for d in self._c.find({"_id": {"$in": [d["_id"] for d in docs]}}, {"_id": 1})}
        gone = [d for d in docs if str(d["_id"]) not in left]
        tally = Tally()
        for doc in gone:
            tally.move(str(doc.get("tenant", DEFAULT_TENANT)), Status(doc["status"]), None)
        self.counters.apply(tally)
        return [str(d["_id"]) for d in gone]

    def mark_unredacted(self) -> int:
        """Give jobs written before redaction existed their state (`wavecom migrate`); how many.
        (Jobs with their own window have none until redacted: they were written after.)"""
        with translated():
            return self._c.update_many({"redacted": {"$exists": False}, "redactAfterSeconds": {"$exists": False}},
                                       {"$set": {"redacted": 0}}).modified_count

    def of_recipient(self, tenant: str, recipients: list[str]) -> list[Doc]:
        """A tenant's jobs to any of these recipients (an erasure's), not yet erased."""
        with translated():
            return list(self._c.find({"tenant": eq(tenant), "recipient": {"$in": recipients}}, ERASE_FIELDS))
