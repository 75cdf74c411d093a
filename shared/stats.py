"""What the dashboard polls: job counts by status, and jobs sent per second lately.

Both are single aggregations that an index backs on MongoDB, so their cost follows the
number of statuses and of recent `sent` events, not the size of the collections' documents;
a short cache in the process keeps many open dashboards to one query each per second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from shared import clock
from shared.bootstrap import Deps
from shared.errors import FieldError, ValidationFailed
from shared.mongo import translated
from shared.states import Event, Status
from shared.store import JOBS, LOGS

Doc = dict[str, Any]
WINDOW_SECONDS = 300
BUCKET_SECONDS = 5
CACHE_SECONDS = 1.0
# The index that backs the throughput query: equality on `event`, range on `createdAt`.
SENT_INDEX = [("tenant", ASCENDING), ("event", ASCENDING), ("createdAt", ASCENDING)]


@dataclass(frozen=True)
class Window:
    """The throughput chart's time range: `buckets` whole buckets ending at `until`."""

    until: datetime
    bucket_seconds: int
    buckets: int

    @property
    def since(self) -> datetime:
        """Start of the first bucket."""
        return self.until - timedelta(seconds=self.bucket_seconds * self.buckets)

    @classmethod
    def ending_before(cls, now: datetime, window_seconds: int, bucket_seconds: int) -> Window:
        """The window of whole buckets that ends at the last bucket boundary before `now`.

        The bucket still filling is left out: its rate would read low until it closes.
        """
        epoch = int(now.timestamp())
        until = datetime.fromtimestamp(epoch - epoch % bucket_seconds, UTC)
        return cls(until, bucket_seconds, window_seconds // bucket_seconds)


def window_from_query(query: Mapping[str, list[str]]) -> tuple[int, int]:
    """`windowSeconds` and `bucketSeconds` from a query string, checked; ValidationFailed if not."""
    errors: list[FieldError] = []

    def read(name: str, default: int, low: int, high: int) -> int:
        raw = (query.get(name) or [str(default)])[0]
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            errors.append(FieldError(name, f"must be a whole number from {low} to {high}"))
            return default
        return int(raw)

    window = read("windowSeconds", WINDOW_SECONDS, 10, 3600)
    bucket = read("bucketSeconds", BUCKET_SECONDS, 1, 300)
    if not errors and (window % bucket or window // bucket > 720):
        errors.append(FieldError("bucketSeconds", "must divide windowSeconds into at most 720 buckets"))
    if errors:
        raise ValidationFailed(errors, "The query has invalid parameters.")
    return window, bucket


def count_by_status(jobs: Collection[Doc], tenant: str) -> dict[str, int]:
    """How many of a tenant's jobs are in each status (every status present, zeros included)."""
    # The $in on every status filters nothing; it lets MongoDB answer from the
    # (tenant, status, ...) index instead of reading whole job documents.
    statuses = [s.value for s in Status]
    with translated():
        rows = list(jobs.aggregate([
            {"$match": {"$and": [{"tenant": tenant}, {"status": {"$in": statuses}}]}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]))
    counts = dict.fromkeys(statuses, 0)
    counts.update({str(r["_id"]): int(r["n"]) for r in rows if r["_id"] in counts})
    return counts


def _second_of(key: Any) -> int | None:
    """The epoch second a `$dateTrunc` group key names.

    MongoDB returns a datetime; the embedded store returns the Extended-JSON text of one
    (`{"$date": "..."}`), recorded in tests/integration/test_stats.py.
    """
    if isinstance(key, str):
        try:
            key = json.loads(key).get("$date")
            key = datetime.fromisoformat(str(key))
        except (ValueError, AttributeError):
            return None
    if not isinstance(key, datetime):
        return None
    if key.tzinfo is None:
        key = key.replace(tzinfo=UTC)
    return int(key.timestamp())


def sent_per_bucket(logs: Collection[Doc], window: Window, tenant: str) -> list[int]:
    """How many of a tenant's `sent` events fall in each bucket of `window`, oldest first."""
    # Grouped per second in the store (at most window-seconds rows come back) and summed into
    # buckets here: the embedded store ignores $dateTrunc's binSize. The $and form of the
    # range is the one the embedded store applies inside an aggregation (same meaning on
    # MongoDB); rows outside the window are dropped below all the same.
    pipeline: list[Doc] = [
        {"$match": {"$and": [
            {"tenant": tenant},
            {"event": Event.SENT.value},
            {"createdAt": {"$gte": window.since}},
            {"createdAt": {"$lt": window.until}},
        ]}},
        {"$group": {"_id": {"$dateTrunc": {"date": "$createdAt", "unit": "second"}}, "n": {"$sum": 1}}},
    ]
    with translated():
        rows = list(logs.aggregate(pipeline))
    start, counts = int(window.since.timestamp()), [0] * window.buckets
    for row in rows:
        second = _second_of(row["_id"])
        if second is None:
            continue
        index = (second - start) // window.bucket_seconds
        if 0 <= index < window.buckets:
            counts[index] += int(row["n"])
    return counts


def ensure_indexes(logs: Collection[Doc]) -> None:
    """Create the index the throughput query uses (idempotent)."""
    with translated():
        logs.create_index(SENT_INDEX)


def read_stats(
    jobs: Collection[Doc],
    logs: Collection[Doc],
    tenant: str,
    *,
    now: datetime | None = None,
    window_seconds: int = WINDOW_SECONDS,
    bucket_seconds: int = BUCKET_SECONDS,
) -> dict[str, Any]:
    """Counts by status and the sent-per-second series, as `GET /api/stats` returns them."""
    now = now or clock.now()
    window = Window.ending_before(now, window_seconds, bucket_seconds)
    counts = count_by_status(jobs, tenant)
    sent = sent_per_bucket(logs, window, tenant)
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "throughput": {
            "since": clock.iso(window.since),
            "until": clock.iso(window.until),
            "bucketSeconds": bucket_seconds,
            "sent": sent,
            "sentPerSecond": [round(n / bucket_seconds, 3) for n in sent],
        },
        "generatedAt": clock.iso(now),
    }


class StatsCache:
    """Answers from the last reading for `ttl` seconds; ensures the index once per database."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._indexed: set[str] = set()

    def get(self, deps: Deps, tenant: str, window_seconds: int, bucket_seconds: int) -> dict[str, Any]:
        """A tenant's stats in the database `deps` point at, at most `ttl` seconds old."""
        db = deps.jobs.client.get_database(deps.settings.mongodb_db)
        name = f"{deps.settings.mongodb_uri}|{db.name}"
        key = (name, tenant, str(window_seconds), str(bucket_seconds))
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            if name not in self._indexed:
                ensure_indexes(db[LOGS])
                self._indexed.add(name)
        stats = read_stats(db[JOBS], db[LOGS], tenant, window_seconds=window_seconds, bucket_seconds=bucket_seconds)
        with self._lock:
            self._entries[key] = (time.monotonic(), stats)
        return stats


CACHE = StatsCache()
