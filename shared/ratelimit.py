"""Per-tenant token buckets shared by every API process through the store.

The bucket is one document per tenant, updated by compare-and-set on a version number, so
concurrent processes never spend the same token twice. A process takes tokens in small
grants (a fiftieth of a second's worth) and spends them locally, so a high limit costs one
store round trip per grant rather than per request.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from pymongo.collection import Collection
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from shared.clock import epoch_ms
from shared.errors import Duplicate, RateLimited
from shared.mongo import translated

Doc = dict[str, Any]
BUCKETS = "ratelimits"
CAS_TRIES = 8


class RateLimiter:
    """Allows `rate` requests per second per tenant, with bursts up to `burst`."""

    def __init__(self, collection: Collection[Doc], rate: float, burst: int) -> None:
        self._c = collection
        self.rate = rate
        self.burst = max(burst, 1)
        self.grant = max(1, min(self.burst, math.floor(rate / 50)))
        self._local: dict[str, int] = {}
        self._refills: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def take(self, tenant: str) -> None:
        """Spend one token of `tenant`, or raise RateLimited with how long to wait."""
        if self.rate <= 0:
            return
        if self._spend_local(tenant):
            return
        # One thread per process refills from the store; the others wait and use its grant,
        # so threads of one process never race each other for the bucket document.
        with self._refill_lock(tenant):
            if self._spend_local(tenant):
                return
            granted = self._take_shared(tenant)
            with self._lock:
                self._local[tenant] = self._local.get(tenant, 0) + granted - 1

    def _spend_local(self, tenant: str) -> bool:
        with self._lock:
            if self._local.get(tenant, 0) > 0:
                self._local[tenant] -= 1
                return True
            return False

    def _refill_lock(self, tenant: str) -> threading.Lock:
        with self._lock:
            return self._refills.setdefault(tenant, threading.Lock())

    def _take_shared(self, tenant: str) -> int:
        """Tokens granted from the shared bucket: a compare-and-set on its version, tried again
        after a short random wait when another process won the round."""
        retrying = Retrying(retry=retry_if_exception_type(_LostRace), stop=stop_after_attempt(CAS_TRIES),
                            wait=wait_random(0, 0.005), reraise=True)
        try:
            return retrying(self._try_take, tenant)
        except _LostRace:
            # Lost every race: the bucket is being drained hard by other processes right now.
            raise RateLimited(1 / self.rate) from None

    def _try_take(self, tenant: str) -> int:
        with translated():
            doc = self._c.find_one({"_id": tenant})
        now = epoch_ms()
        if doc is None:
            try:
                with translated():
                    self._c.insert_one({"_id": tenant, "tokens": float(self.burst), "atMs": now, "v": 0})
            except Duplicate:
                pass  # another process made it first
            raise _LostRace()
        elapsed = max(0, now - int(doc["atMs"])) / 1000
        tokens = min(float(self.burst), float(doc["tokens"]) + elapsed * self.rate)
        if tokens < 1:
            raise RateLimited((1 - tokens) / self.rate)
        granted = min(self.grant, math.floor(tokens))
        with translated():
            result = self._c.update_one(
                {"_id": tenant, "v": doc["v"]},
                {"$set": {"tokens": tokens - granted, "atMs": now}, "$inc": {"v": 1}},
            )
        if result.modified_count != 1:
            raise _LostRace()
        return granted


class _LostRace(Exception):
    """Another process changed the bucket between our read and our write."""
