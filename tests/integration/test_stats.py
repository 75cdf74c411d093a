"""GET /api/stats against the real store: counts by status and jobs sent and failed per second,
all read from the maintained counters, none by counting or scanning jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from shared.bootstrap import Deps
from shared.counters import Tally, status_id
from shared.errors import ValidationFailed
from shared.intake import create_jobs
from shared.model import NewJob
from shared.states import Status
from shared.stats import Window, read_stats, window_from_query
from shared.store import JOBS
from shared.storework import STORE_WORK
from tests.conftest import wait_for

NOW = datetime(2026, 11, 24, 13, 5, 7, 250000, tzinfo=UTC)
SMS = NewJob("sms", "+2348012345678", "Your code is 123456")


def finish(deps: Deps, tenant: str, status: Status, *ages_s: float) -> None:
    """Count jobs of `tenant` as finished `status` this many seconds before NOW."""
    tally = Tally()
    for age in ages_s:
        tally.move(tenant, Status.SENDING, status, at_s=int(NOW.timestamp() - age))
    deps.jobs.counters.apply(tally)
    deps.jobs.counters.flush()


def test_counts_follow_the_jobs_writes_per_tenant_and_cover_every_status(deps: Deps) -> None:
    create_jobs(deps, [SMS] * 3, "acme")
    create_jobs(deps, [SMS] * 2, "other")  # another tenant's jobs are not counted
    deps.jobs.counters.flush()
    stats = read_stats(deps.jobs.counters, "acme", now=NOW)
    assert stats["counts"] == {"pending": 0, "queued": 3, "sending": 0, "sent": 0, "retrying": 0,
                               "failed": 0, "cancelled": 0, "scheduled": 0, "expired": 0}
    assert stats["total"] == 3 and set(stats["counts"]) == {s.value for s in Status}


def test_sent_and_failed_are_counted_in_whole_buckets_of_the_window(deps: Deps) -> None:
    # NOW is 13:05:07.25: the window is the 60 five-second buckets ending at 13:05:05.
    finish(deps, "acme", Status.SENT, 2.5, 2.6, 3.0, 8.0, 299.0, 303.0, 400.0, 1.0)
    finish(deps, "acme", Status.FAILED, 3.0)
    finish(deps, "acme", Status.EXPIRED, 2.5, 9.0)
    finish(deps, "other", Status.SENT, 2.5, 2.6)
    stats = read_stats(deps.jobs.counters, "acme", now=NOW)["throughput"]
    assert stats["until"] == "2026-11-24T13:05:05.000Z" and stats["since"] == "2026-11-24T13:00:05.000Z"
    assert stats["bucketSeconds"] == 5 and len(stats["sent"]) == len(stats["failed"]) == 60
    # 2.5, 2.6 and 3.0 s old fall in 13:05:00-05; 8.0 in 13:04:55-00; 299 in the first bucket;
    # 1.0 s old is in the bucket still filling; 303 and 400 are before the window.
    assert stats["sent"][-1] == 3 and stats["sent"][-2] == 1 and stats["sent"][0] == 1
    assert sum(stats["sent"]) == 5 and stats["sentPerSecond"][-1] == 0.6
    assert stats["failed"][-1] == 1 and sum(stats["failed"]) == 1 and stats["failedPerSecond"][-1] == 0.2
    assert stats["expired"][-2:] == [1, 1] and stats["expiredPerSecond"][-1] == 0.2


def test_a_per_second_series_can_be_asked_for(deps: Deps) -> None:
    finish(deps, "acme", Status.SENT, 1.5, 1.6, 2.5)
    stats = read_stats(deps.jobs.counters, "acme", now=NOW, window_seconds=10, bucket_seconds=1)["throughput"]
    # The window is 13:04:57-13:05:07: 2.5 s old is 13:05:04.75, 1.5 and 1.6 are in 13:05:05.
    assert stats["sent"][-3:] == [1, 2, 0] and len(stats["sent"]) == 10


def test_five_minutes_of_the_chart_are_six_documents_however_busy_the_tenant(deps: Deps) -> None:
    finish(deps, "acme", Status.SENT, *(age + 0.5 for age in range(2, 305)))  # a job every second
    before = STORE_WORK.snapshot(deps.settings.mongodb_db)
    stats = read_stats(deps.jobs.counters, "acme", now=NOW)["throughput"]
    work = STORE_WORK.snapshot(deps.settings.mongodb_db) - before
    assert stats["sent"] == [5] * 60  # every second of the window counted once
    assert work.read["counters"] <= 7  # the status document and the window's minutes (13:00-13:05)


def test_the_endpoint_reads_counters_only_never_the_jobs(api: httpx.Client, deps: Deps) -> None:
    created = api.post("/api/notifications", json={"type": "email", "recipient": "a@example.com", "message": "hi"})
    assert created.status_code == 201
    db = deps.settings.mongodb_db
    before = STORE_WORK.snapshot(db)
    response = wait_for(lambda: (r := api.get("/api/stats")).json()["total"] == 1 and r, what="the job to be counted")
    work = STORE_WORK.snapshot(db) - before
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.json()["counts"]["queued"] + response.json()["counts"]["pending"] == 1
    assert work.read[JOBS] == 0 and work.written[JOBS] == 0  # no count, no scan of the jobs
    assert set(response.json()["throughput"]) >= {"sent", "failed", "expired", "sentPerSecond", "failedPerSecond",
                                                  "expiredPerSecond"}


def test_a_bad_window_is_a_validation_problem(api: httpx.Client) -> None:
    response = api.get("/api/stats", params={"windowSeconds": "300", "bucketSeconds": "7"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "bucketSeconds"
    with pytest.raises(ValidationFailed):
        window_from_query({"windowSeconds": ["abc"]})


def test_the_window_ends_at_the_last_bucket_boundary() -> None:
    window = Window.ending_before(NOW, 300, 5)
    assert window.until == datetime(2026, 11, 24, 13, 5, 5, tzinfo=UTC) and window.buckets == 60


def test_reconciling_puts_a_drifted_counter_right(deps: Deps) -> None:
    create_jobs(deps, [SMS] * 4, "acme")
    deps.jobs.counters.flush()
    counters = deps.jobs.counters
    # A process lost between a job write and its counter write: the counter missed a move.
    deps.jobs.client[deps.settings.mongodb_db]["counters"].update_one(
        {"_id": status_id("acme")}, {"$inc": {"queued": -1, "pending": 1}})
    assert counters.counts("acme")["queued"] == 3
    assert counters.reconcile("acme", deps.jobs.count_by_status, settle_s=0) == {"pending": -1, "queued": 1}
    assert counters.counts("acme")["queued"] == 4 and counters.counts("acme")["pending"] == 0
    assert counters.reconcile("acme", deps.jobs.count_by_status, settle_s=0) == {}


def test_reconciling_stands_back_while_increments_land(deps: Deps) -> None:
    create_jobs(deps, [SMS] * 2, "acme")
    counters = deps.jobs.counters
    counters.flush()
    deps.jobs.client[deps.settings.mongodb_db]["counters"].update_one({"_id": status_id("acme")}, {"$inc": {"queued": 5}})

    def a_job_moves_meanwhile(_: float) -> None:
        tally = Tally()
        tally.move("acme", Status.QUEUED, Status.SENDING)
        counters.apply(tally)
        counters.flush()

    assert counters.reconcile("acme", deps.jobs.count_by_status, settle_s=0, sleep=a_job_moves_meanwhile) is None
    # The increment stands and nothing was overwritten; the next sweep recounts.
    assert counters.counts("acme")["sending"] == 1 and counters.counts("acme")["queued"] == 6


def test_several_sweepers_recount_a_tenant_once_per_interval(deps: Deps) -> None:
    create_jobs(deps, [SMS], "acme")
    counters = deps.jobs.counters
    counters.flush()
    turns = [counters.take_turn("acme", 60_000, now) for now in (1_000_000, 1_000_000, 1_030_000, 1_061_000)]
    assert turns == [True, False, False, True]
