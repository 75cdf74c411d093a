"""What the dashboard polls: job counts by status, and jobs sent, failed and expired per
second lately.

Both come from the maintained counters (shared.counters): one document read for the counts and
at most one small document per second of the window for the series, whatever the number of
jobs. A short cache in the process keeps many open dashboards to one read each per second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import clock
from shared.bootstrap import Deps
from shared.counters import CounterStore
from shared.errors import FieldError, ValidationFailed
from shared.states import Status

WINDOW_SECONDS = 300
BUCKET_SECONDS = 5
CACHE_SECONDS = 1.0
SERIES = (Status.SENT.value, Status.FAILED.value, Status.EXPIRED.value)


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


def read_stats(
    counters: CounterStore,
    tenant: str,
    *,
    now: datetime | None = None,
    window_seconds: int = WINDOW_SECONDS,
    bucket_seconds: int = BUCKET_SECONDS,
) -> dict[str, Any]:
    """Counts by status and the sent, failed and expired series, as `GET /api/stats` returns them."""
    now = now or clock.now()
    window = Window.ending_before(now, window_seconds, bucket_seconds)
    counts = counters.counts(tenant)
    start = int(window.since.timestamp())
    series = {name: [0] * window.buckets for name in SERIES}
    for second, doc in counters.series(tenant, start, int(window.until.timestamp())).items():
        for name in SERIES:
            series[name][(second - start) // bucket_seconds] += int(doc.get(name, 0))
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "throughput": {
            "since": clock.iso(window.since),
            "until": clock.iso(window.until),
            "bucketSeconds": bucket_seconds,
            **{name: series[name] for name in SERIES},
            **{f"{name}PerSecond": [round(n / bucket_seconds, 3) for n in series[name]] for name in SERIES},
        },
        "generatedAt": clock.iso(now),
    }


class StatsCache:
    """Answers from the last reading for `ttl` seconds."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}

    def get(self, deps: Deps, tenant: str, window_seconds: int, bucket_seconds: int) -> dict[str, Any]:
        """A tenant's stats in the database `deps` point at, at most `ttl` seconds old."""
        key = (deps.settings.mongodb_uri, deps.settings.mongodb_db, tenant, str(window_seconds), str(bucket_seconds))
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
        stats = read_stats(deps.jobs.counters, tenant, window_seconds=window_seconds, bucket_seconds=bucket_seconds)
        with self._lock:
            self._entries[key] = (time.monotonic(), stats)
        return stats


CACHE = StatsCache()
