"""Maintained counters: jobs per status per tenant, and jobs sent, failed and expired per
second.

What the dashboard polls (`GET /api/stats`) is read from these few small documents, never by
counting or scanning jobs: one per tenant for the statuses, and one per tenant and minute holding
that minute's seconds (`sent_07`, `failed_07`: flat names, so an upsert's `$inc` works on every
store), so five minutes of the chart are six documents. Every write that moves jobs between
statuses adds its change to the process's tally, stored every 50 ms as one `$inc` per tenant (and
one per minute with finishes). They
are separate documents with no transaction, so a process lost between its job writes and its
next flush leaves a counter off: `reconcile` recounts a tenant's jobs with one aggregation, off
the hot path, and stores the result only if no increment landed meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.collection import Collection

from shared.errors import Duplicate, StoreError
from shared.jobdocs import eq
from shared.mongo import translated
from shared.states import Status

Doc = dict[str, Any]
COUNTERS = "counters"
STATUSES = tuple(s.value for s in Status)
FINISHED = (Status.SENT, Status.FAILED, Status.EXPIRED)  # the statuses counted per second too
SERIES_NAMES = frozenset(s.value for s in FINISHED)
log = logging.getLogger("wavecom.counters")


def status_id(tenant: str) -> str:
    """The `_id` of a tenant's status counts."""
    return f"status/{tenant}"


def minute_id(tenant: str, minute: int) -> str:
    """The `_id` of a tenant's per-second counts of jobs sent, failed and expired in the minute
    starting at epoch second `minute`."""
    return f"rate/{tenant}/m{minute}"


def second_field(name: str, second: int) -> str:
    """The field of a minute's document counting `name` (sent, failed, expired) in epoch second `second`."""
    return f"{name}_{second % 60:02d}"


@dataclass
class Tally:
    """The counter changes of one group commit: status moves per tenant, finishes per second."""

    moves: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    finishes: defaultdict[tuple[str, int], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def move(self, tenant: str, source: Status | None, target: Status | None, n: int = 1,
             at_s: int | None = None) -> None:
        """`n` jobs of `tenant` left `source` (None: new) for `target` (None: deleted), at `at_s`."""
        if source is not None:
            self.moves[tenant][source.value] -= n
        if target is not None:
            self.moves[tenant][target.value] += n
            if target in FINISHED:
                self.finishes[(tenant, at_s if at_s is not None else int(time.time()))][target.value] += n

    def add(self, other: Tally) -> None:
        """Merge `other` into this tally."""
        for tenant, deltas in other.moves.items():
            self.moves[tenant].update(deltas)
        for key, counts in other.finishes.items():
            self.finishes[key].update(counts)

    def ops(self) -> list[UpdateOne]:
        """The upserts that apply this tally: one per tenant, one per second bucket."""
        ops = [UpdateOne({"_id": status_id(tenant)}, {"$inc": {**{k: v for k, v in deltas.items() if v}, "v": 1},
                                                      "$setOnInsert": {"tenant": tenant}}, upsert=True)
               for tenant, deltas in self.moves.items() if any(deltas.values())]
        minutes: defaultdict[tuple[str, int], Counter[str]] = defaultdict(Counter)
        for (tenant, second), counts in self.finishes.items():
            for name, n in counts.items():
                minutes[(tenant, second - second % 60)][second_field(name, second)] += n
        ops += [UpdateOne({"_id": minute_id(tenant, minute)}, {"$inc": dict(counts),
                                                               "$setOnInsert": {"tenant": tenant, "minute": minute}},
                          upsert=True)
                for (tenant, minute), counts in minutes.items()]
        return ops


class CounterStore:
    """The `counters` collection: one status document per tenant, one document per busy second.

    Written behind: the tallies of the process's group commits are merged in memory and stored
    together every `flush_every_s`, so many flushes of job writes cost one counter write, and no
    job write waits for one. A process lost before its next flush leaves the counters off by what
    it held; `reconcile` puts that right.
    """

    def __init__(self, collection: Collection[Doc], flush_every_s: float = 0.05) -> None:
        self._c = collection
        self.flush_every_s = flush_every_s
        self._pending = Tally()
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def ensure_indexes(self) -> None:
        """The index the per-second series reads."""
        with translated():
            self._c.create_index([("tenant", ASCENDING), ("minute", ASCENDING)])

    def apply(self, tally: Tally) -> None:
        """Add a group commit's changes; they are stored within `flush_every_s`."""
        with self._lock:
            self._pending.add(tally)
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_forever, name="counters", daemon=True)
                self._flusher.start()

    def _flush_forever(self) -> None:
        """Flush every `flush_every_s` while changes keep coming; the thread ends when idle."""
        while True:
            time.sleep(self.flush_every_s)
            with self._lock:
                if not self._pending.moves and not self._pending.finishes:
                    self._flusher = None
                    return
            self.flush()

    def flush(self) -> None:
        """Store what was applied so far, now. Never raises: the job writes the changes follow
        are already stored, and a counter left off is put right by `reconcile`."""
        with self._lock:
            tally, self._pending = self._pending, Tally()
        ops = tally.ops()
        if not ops:
            return
        try:
            with translated():
                self._c.bulk_write(ops, ordered=False)
        except StoreError as e:
            log.warning("counters not updated; the sweeper will reconcile them", extra={"error": str(e)})

    def counts(self, tenant: str) -> dict[str, int]:
        """A tenant's jobs per status (every status, zeros included)."""
        with translated():
            doc = self._c.find_one({"_id": status_id(tenant)}) or {}
        return {s: max(0, int(doc.get(s, 0))) for s in STATUSES}

    def series(self, tenant: str, since_s: int, until_s: int) -> dict[int, dict[str, int]]:
        """A tenant's per-second sent, failed and expired counts in [since_s, until_s), by second:
        one document read per minute of the range."""
        found: defaultdict[int, dict[str, int]] = defaultdict(dict)
        with translated():
            docs = list(self._c.find({"tenant": eq(tenant), "minute": {"$gte": since_s - since_s % 60, "$lt": until_s}}))
        for doc in docs:
            for key, n in doc.items():
                name, _, offset = key.rpartition("_")
                if name in SERIES_NAMES and offset.isdigit() and since_s <= (second := int(doc["minute"]) + int(offset)) < until_s:
                    found[second][name] = int(n)
        return dict(found)

    def prune(self, before_s: int) -> int:
        """Delete the per-second counts of minutes that ended by `before_s`; how many minutes went."""
        with translated():
            return self._c.delete_many({"minute": {"$lte": before_s - 60}}).deleted_count

    def drop_per_second_documents(self) -> int:
        """Delete the one-document-per-second counts of earlier releases (`wavecom migrate`)."""
        with translated():
            gone = self._c.delete_many({"second": {"$exists": True}}).deleted_count
            if "tenant_1_second_1" in self._c.index_information():
                self._c.drop_index("tenant_1_second_1")
        return gone

    def tenants(self) -> list[str]:
        """Every tenant that has status counts."""
        with translated():
            return [str(d["tenant"]) for d in self._c.find({"_id": {"$regex": "^status/"}}, {"tenant": 1})]

    def take_turn(self, tenant: str, every_ms: int, now_ms: int) -> bool:
        """Whether this caller recounts `tenant` now: the first to ask once `every_ms` passed
        since the last recount (a compare-and-set, so several sweepers recount a tenant once)."""
        mark = {"$set": {"reconciledAtMs": now_ms}}
        with translated():
            for due in ({"$exists": False}, {"$lt": now_ms - every_ms}):
                if self._c.update_one({"_id": status_id(tenant), "reconciledAtMs": due}, mark).modified_count:
                    return True
        return False

    def reconcile(self, tenant: str, recount: Callable[[str], dict[str, int]], *, settle_s: float = 1.0,
                  sleep: Callable[[float], None] = time.sleep) -> dict[str, int] | None:
        """Recount a tenant's jobs per status with `recount` and store the counts if they were
        off; returns the corrections made (status: change), or None when increments kept landing.

        Compare-and-set on the document's version: the recount is stored only if no increment
        landed from before the recount until `settle_s` after it, so a job write the recount saw
        whose increment was still on its way is never counted twice.
        """
        with translated():
            before = self._c.find_one({"_id": status_id(tenant)})
        actual = dict.fromkeys(STATUSES, 0) | recount(tenant)
        sleep(settle_s)
        if before is None:
            try:
                with translated():
                    self._c.insert_one({"_id": status_id(tenant), "tenant": tenant, **actual, "v": 1})
            except Duplicate:
                return None  # the first increment came meanwhile
            return {s: n for s, n in actual.items() if n}
        corrections = {s: actual[s] - int(before.get(s, 0)) for s in STATUSES if actual[s] != int(before.get(s, 0))}
        if not corrections:
            return {}
        with translated():
            done = self._c.update_one({"_id": status_id(tenant), "v": before["v"]},
                                      {"$set": actual, "$inc": {"v": 1}}).modified_count
        return corrections if done else None

