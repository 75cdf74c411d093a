"""Watching the stack while it works, without loading the store it measures.

How many of the tenant's jobs are finished comes from the maintained counters: one small
document read by `_id` a few times a second, whatever the size of the run. Queue depths (one
passive declare per queue) are sampled for the chart only: a passive declare counts ready
messages, which reach 0 while the last ones are still being handled, so they never say "done".
The run's jobs themselves are read once, at the end (`finished_jobs`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from shared.broker import QueueProbe
from shared.counters import COUNTERS, CounterStore
from shared.errors import BrokerUnavailable, StoreError
from shared.mongo import connect, translated
from shared.states import TERMINAL
from shared.store import JOBS, object_id

CHUNK = 1000
TERMINAL_VALUES = sorted(s.value for s in TERMINAL)


def finished_of(counts: Mapping[str, int]) -> int:
    """Jobs in a terminal status, from a tenant's status counts."""
    return sum(int(counts.get(s, 0)) for s in TERMINAL_VALUES)


class Watcher:
    """Follows a tenant's finished count and samples queue depths, on a thread."""

    def __init__(self, mongodb_uri: str, db: str, tenant: str, rabbitmq_url: str, queues: list[str], *,
                 interval_s: float = 0.25, depth_every: int = 2) -> None:
        self._db = connect(mongodb_uri, db)
        self._counters = CounterStore(self._db[COUNTERS])
        self._tenant = tenant
        self._probe = QueueProbe(rabbitmq_url)
        self.queues = queues
        self._interval, self._depth_every = interval_s, depth_every
        try:  # what the tenant had finished before the run; a store that fails this ends the run
            self.baseline = finished_of(self._counters.counts(tenant))
        except StoreError:
            self._db.client.close()
            raise
        self._finished = self.baseline
        self.depths: list[tuple[float, dict[str, int]]] = []
        self.store_errors = self.broker_errors = 0
        self._store_down_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)

    @property
    def finished(self) -> int:
        """The tenant's jobs finished since the watcher started."""
        return self._finished - self.baseline

    def store_down_for(self) -> float:
        """Seconds the store has failed every look since (0 while it answers)."""
        since = self._store_down_since
        return 0.0 if since is None else time.monotonic() - since

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and release connections."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._db.client.close()

    def poll(self) -> int:
        """Read the counters now; returns the jobs finished since the start."""
        found = self._finished_now()
        if found is not None:
            self._finished = max(self._finished, found)
        return self.finished

    def _finished_now(self) -> int | None:
        try:
            counts = self._counters.counts(self._tenant)
        except StoreError:
            self.store_errors += 1
            self._store_down_since = self._store_down_since or time.monotonic()
            return None
        self._store_down_since = None
        return finished_of(counts)

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            if tick % self._depth_every == 0:
                self.sample_depths()
            self.poll()
            tick += 1
            self._stop.wait(self._interval)

    def sample_depths(self) -> None:
        """Record the messages ready in each watched queue now."""
        try:
            depths = self._probe.depths(self.queues)
        except BrokerUnavailable:
            self.broker_errors += 1
            return
        self.depths.append((time.time(), depths))


@dataclass(frozen=True)
class Finished:
    """A job of the run in a terminal status, with its creation and last update (epoch s)."""

    status: str
    created: float
    updated: float


def _epoch(value: object) -> float:
    """Seconds since the epoch of a stored timestamp (a datetime; an ISO string on a store
    that kept a `$set` datetime as text, see tests/integration/test_store_gaps.py)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def finished_jobs(jobs: Collection[dict[str, Any]], ids: list[str]) -> dict[str, Finished]:
    """The run's finished jobs, read once: by `_id` in chunks of 1,000, only the fields the
    figures need (never the timeline or the message)."""
    found: dict[str, Finished] = {}
    for start in range(0, len(ids), CHUNK):
        query = {"_id": {"$in": [object_id(i) for i in ids[start:start + CHUNK]]}}
        with translated():
            docs = list(jobs.find(query, {"status": 1, "createdAt": 1, "updatedAt": 1}))
        for doc in docs:
            if doc["status"] in TERMINAL_VALUES:
                found[str(doc["_id"])] = Finished(str(doc["status"]), _epoch(doc["createdAt"]), _epoch(doc["updatedAt"]))
    return found


def read_finished(mongodb_uri: str, db: str, ids: list[str]) -> dict[str, Finished]:
    """`finished_jobs` on a connection of its own."""
    database = connect(mongodb_uri, db)
    try:
        return finished_jobs(database[JOBS], ids)
    finally:
        database.client.close()
