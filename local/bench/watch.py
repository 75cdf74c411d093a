"""Watching the stack while it works: which of the run's jobs are finished, and queue depths.

Polling is kept cheap so it does not slow what it measures: a few chunks of the oldest
unfinished ids per second, looked up by `_id` with `$in` (which the embedded store answers
like MongoDB), and one passive queue declaration per queue twice a second.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import BrokerUnavailable, StoreError
from shared.mongo import connect, translated
from shared.probes import BrokerProbe
from shared.states import TERMINAL
from shared.store import JOBS, object_id

CHUNK = 1000
TERMINAL_VALUES = sorted(s.value for s in TERMINAL)


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


class Watcher:
    """Follows the run's jobs to a terminal status and samples queue depths, on a thread."""

    def __init__(
        self,
        mongodb_uri: str,
        db: str,
        rabbitmq_url: str,
        queues: list[str],
        *,
        interval_s: float = 0.5,
        chunks_per_poll: int = 3,
    ) -> None:
        self._jobs = connect(mongodb_uri, db)[JOBS]
        self._probe = BrokerProbe(rabbitmq_url)
        self.queues = queues
        self._interval = interval_s
        self._chunks = chunks_per_poll
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, None] = OrderedDict()  # oldest first
        self.accepted = 0
        self.finished: dict[str, Finished] = {}
        self.depths: list[tuple[float, dict[str, int]]] = []
        self.store_errors = 0
        self._store_down_since: float | None = None
        self.broker_errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)

    def add(self, ids: list[str]) -> None:
        """Follow these newly accepted jobs."""
        with self._lock:
            self.accepted += len(ids)
            for job_id in ids:
                self._pending[job_id] = None

    @property
    def unfinished(self) -> int:
        """Accepted jobs not yet seen in a terminal status."""
        with self._lock:
            return len(self._pending)

    def store_down_for(self) -> float:
        """Seconds the store has failed every look since (0 while it answers)."""
        since = self._store_down_since
        return 0.0 if since is None else time.monotonic() - since

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and release connections."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._jobs.database.client.close()

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            self.sample_depths()
            if tick % 2 == 0:  # the store once a second, the broker twice
                self.poll(self._chunks)
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

    def poll(self, chunks: int) -> None:
        """Look up the oldest unfinished jobs, up to `chunks` × 1000 of them."""
        with self._lock:
            ids = list(self._pending)[: chunks * CHUNK]
        for start in range(0, len(ids), CHUNK):
            query = {"_id": {"$in": [object_id(i) for i in ids[start:start + CHUNK]]},
                     "status": {"$in": TERMINAL_VALUES}}
            try:
                with translated():
                    docs = list(self._jobs.find(query, {"status": 1, "createdAt": 1, "updatedAt": 1}))
            except StoreError:
                self.store_errors += 1
                self._store_down_since = self._store_down_since or time.monotonic()
                return
            self._store_down_since = None
            self._record(docs)

    def _record(self, docs: list[dict[str, Any]]) -> None:
        with self._lock:
            for doc in docs:
                job_id = str(doc["_id"])
                self.finished[job_id] = Finished(str(doc["status"]), _epoch(doc["createdAt"]),
                                                 _epoch(doc["updatedAt"]))
                self._pending.pop(job_id, None)
