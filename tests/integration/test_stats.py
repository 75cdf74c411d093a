"""GET /api/stats against the real store: counts by status and sent per second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.collection import Collection

from shared.bootstrap import Deps
from shared.errors import ValidationFailed
from shared.states import Status
from shared.stats import SENT_INDEX, Window, read_stats, window_from_query
from shared.store import JOBS, LOGS

NOW = datetime(2026, 11, 24, 13, 5, 7, 250000, tzinfo=UTC)


def collections(deps: Deps) -> tuple[Collection[dict[str, Any]], Collection[dict[str, Any]]]:
    db = deps.jobs.client.get_database(deps.settings.mongodb_db)
    return db[JOBS], db[LOGS]


def add_events(logs: Collection[dict[str, Any]], event: str, *ages_s: float, tenant: str = "acme") -> None:
    logs.insert_many([{"jobId": f"j{i}", "event": event, "details": {}, "tenant": tenant,
                       "createdAt": NOW - timedelta(seconds=a)} for i, a in enumerate(ages_s)])


def test_counts_cover_every_status_including_those_with_no_job(deps: Deps) -> None:
    jobs, logs = collections(deps)
    jobs.insert_many([{"status": s, "tenant": "acme"} for s in ["sent", "sent", "failed", "queued", "cancelled"]])
    jobs.insert_many([{"status": "sent", "tenant": "other"} for _ in range(3)])  # another tenant's jobs are not counted
    stats = read_stats(jobs, logs, "acme", now=NOW)
    assert stats["counts"] == {"pending": 0, "queued": 1, "sending": 0, "sent": 2, "retrying": 0,
                               "failed": 1, "cancelled": 1}
    assert stats["total"] == 5 and set(stats["counts"]) == {s.value for s in Status}


def test_sent_events_are_counted_in_whole_buckets_of_the_window(deps: Deps) -> None:
    jobs, logs = collections(deps)
    # NOW is 13:05:07.25: the window is the 60 five-second buckets ending at 13:05:05.
    add_events(logs, "sent", 2.5, 2.6, 3.0, 8.0, 299.0, 303.0, 400.0, 1.0)
    add_events(logs, "sending", 3.0, 3.1)
    add_events(logs, "sent", 2.5, 2.6, tenant="other")
    stats = read_stats(jobs, logs, "acme", now=NOW)["throughput"]
    assert stats["until"] == "2026-11-24T13:05:05.000Z" and stats["since"] == "2026-11-24T13:00:05.000Z"
    assert stats["bucketSeconds"] == 5 and len(stats["sent"]) == 60
    # 2.5, 2.6 and 3.0 s old fall in 13:05:00-05; 8.0 in 13:04:55-00; 299 in the first bucket;
    # 1.0 s old is in the bucket still filling; 303 and 400 are before the window.
    assert stats["sent"][-1] == 3 and stats["sent"][-2] == 1 and stats["sent"][0] == 1
    assert sum(stats["sent"]) == 5
    assert stats["sentPerSecond"][-1] == 0.6


def test_a_per_second_series_can_be_asked_for(deps: Deps) -> None:
    jobs, logs = collections(deps)
    add_events(logs, "sent", 1.5, 1.6, 2.5)
    stats = read_stats(jobs, logs, "acme", now=NOW, window_seconds=10, bucket_seconds=1)["throughput"]
    # The window is 13:04:57-13:05:07: 2.5 s old is 13:05:04.75, 1.5 and 1.6 are in 13:05:05.
    assert stats["sent"][-3:] == [1, 2, 0] and len(stats["sent"]) == 10


def test_the_endpoint_answers_through_the_route_table(api: httpx.Client, deps: Deps) -> None:
    created = api.post("/api/notifications", json={"type": "email", "recipient": "a@example.com", "message": "hi"})
    assert created.status_code == 201
    response = api.get("/api/stats")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["total"] == 1 and body["counts"]["queued"] + body["counts"]["pending"] == 1
    indexes = [list(ix["key"].items()) for ix in collections(deps)[1].list_indexes()]
    assert [(k, int(v)) for k, v in SENT_INDEX] in [[(k, int(v)) for k, v in ix] for ix in indexes]


def test_a_bad_window_is_a_validation_problem(api: httpx.Client) -> None:
    response = api.get("/api/stats", params={"windowSeconds": "300", "bucketSeconds": "7"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "bucketSeconds"
    with pytest.raises(ValidationFailed):
        window_from_query({"windowSeconds": ["abc"]})


def test_the_window_ends_at_the_last_bucket_boundary() -> None:
    window = Window.ending_before(NOW, 300, 5)
    assert window.until == datetime(2026, 11, 24, 13, 5, 5, tzinfo=UTC) and window.buckets == 60


# Gaps of the embedded store (nx-27017) that shaped the throughput query. Each asserts the
# stand-in's behaviour, so a fixed release makes the test fail and the workaround can go.

def test_store_gap_a_bare_date_range_in_an_aggregation_match_is_ignored(deps: Deps) -> None:
    _, logs = collections(deps)
    add_events(logs, "sent", 1, 1000)
    since = NOW - timedelta(seconds=10)
    bare = list(logs.aggregate([{"$match": {"createdAt": {"$gte": since}}}, {"$count": "n"}]))
    wrapped = list(logs.aggregate([{"$match": {"$and": [{"createdAt": {"$gte": since}}]}}, {"$count": "n"}]))
    assert bare == [{"n": 2}]  # MongoDB: 1
    assert wrapped == [{"n": 1}]  # the form shared/stats.py uses


def test_store_gap_date_trunc_returns_text_and_ignores_bin_size(deps: Deps) -> None:
    _, logs = collections(deps)
    add_events(logs, "sent", 0.0, 1.0)
    rows = list(logs.aggregate([{"$group": {
        "_id": {"$dateTrunc": {"date": "$createdAt", "unit": "second", "binSize": 5}}, "n": {"$sum": 1}}}]))
    assert all(isinstance(r["_id"], str) for r in rows)  # MongoDB: datetimes
    assert len(rows) == 2  # MongoDB: one 5-second bin (NOW is 7.25 s past the minute)


def test_store_gap_date_arithmetic_is_not_available(deps: Deps) -> None:
    _, logs = collections(deps)
    add_events(logs, "sent", 0.0)
    row = next(logs.aggregate([{"$project": {"ms": {"$toLong": "$createdAt"}}}]))
    assert row["ms"] is None  # MongoDB: milliseconds since the epoch
