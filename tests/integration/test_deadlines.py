"""Expiry and scheduled sends on the real broker and store: a job not handed to a provider by its
expiresAt ends `expired` and is never sent, wherever its message is; a scheduled job waits in
the store, is released by the sweeper once due, and can be cancelled until then."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from shared import clock, timeline
from shared.bootstrap import Deps
from shared.broker import QueueProbe
from shared.intake import create_job
from shared.model import NewJob, Priority
from shared.outbox import Sweeper, sweep
from shared.states import Event, Status
from shared.store import Outcome
from tests.conftest import claim, events, provider, queue_depth, wait_for


def sms(**fields: object) -> NewJob:
    metadata = fields.pop("metadata", {})
    return NewJob("sms", "+2348012345678", "Your code is 123456", metadata, **fields)  # type: ignore[arg-type]


def status(deps: Deps, job_id: str) -> str:
    return deps.jobs.get(job_id).status.value


def passed(t) -> Callable[[], bool]:
    return lambda: clock.now() > t


@pytest.fixture
def sweeping() -> Iterator[Callable[[Deps], Sweeper]]:
    """Run sweepers in threads; each is stopped after the test."""
    running: list[tuple[Sweeper, threading.Thread]] = []

    def start(deps: Deps) -> Sweeper:
        sweeper = Sweeper(deps)
        thread = threading.Thread(target=sweeper.run, name="sweeper", daemon=True)
        thread.start()
        running.append((sweeper, thread))
        return sweeper

    yield start
    for sweeper, thread in running:
        sweeper.stop()
        thread.join(timeout=10)


def test_a_job_whose_time_ran_out_in_its_lane_expires_when_its_message_comes_and_is_never_sent(deps, start_worker):
    job = create_job(deps, sms(expires_at=clock.now() + timedelta(milliseconds=500)))
    assert job.status.value == "queued"
    wait_for(passed(job.expires_at), what="the job's time to run out")
    start_worker(deps)  # no sweeper: the claim finds the job expired
    wait_for(lambda: status(deps, job.id) == "expired", what="the job to expire")
    assert events(deps, job.id) == ["created", "queued", "expired"]
    assert provider(deps, "sms").delivered(job.id) == 0
    assert deps.jobs.timeline(job.id)[-1].details["expiresAt"] == clock.iso(job.expires_at)
    wait_for(lambda: deps.jobs.counters.counts("default")["expired"] == 1, what="the expired count")


def test_the_sweeper_expires_a_retrying_job_whose_message_waits_in_a_delay_queue(make_deps, sweeping, broker_url):
    deps = make_deps(sweep_interval_ms=100)
    job = create_job(deps, sms(priority=Priority.HIGH, expires_at=clock.now() + timedelta(seconds=1)))
    # An attempt fails and its retry waits 30 s in the high lane's delay queue, as a worker leaves it.
    claimed = claim(deps, job.id, "worker-a", 30_000)
    assert claimed is not None
    retry = {"attempt": 1, "error": "timed out", "delayMs": 30_000}
    assert deps.jobs.finish_many([Outcome(claimed, Status.RETRYING, timeline.entry(Event.RETRY_SCHEDULED, retry),
                                          {"lastError": "timed out"})]) == [True]
    deps.publisher.publish_jobs([job.id], lanes={job.id: Priority.HIGH}, delay_ms=30_000)
    delay_queue = deps.publisher.topology.delay(30_000, Priority.HIGH)
    assert queue_depth(broker_url, delay_queue) == 1
    sweeping(deps)
    wait_for(lambda: status(deps, job.id) == "expired", what="the sweeper to expire the job")
    assert queue_depth(broker_url, delay_queue) == 1  # its message is still waiting, and will find it finished
    assert events(deps, job.id)[-2:] == ["retry_scheduled", "expired"]


def test_a_retry_that_could_only_start_after_the_expiry_ends_the_job_expired_at_once(make_deps, start_worker, broker_url):
    deps = make_deps(retry_base_ms=5000)
    job = create_job(deps, sms(expires_at=clock.now() + timedelta(seconds=3), metadata={"mockFailures": 1}))
    start_worker(deps)
    wait_for(lambda: status(deps, job.id) == "expired", what="the job to expire instead of waiting 5 s")
    assert events(deps, job.id) == ["created", "queued", "sending", "expired"]
    last = deps.jobs.timeline(job.id)[-1].details
    assert last["error"] == "mock sms provider unavailable (forced failure 1)" and last["provider"] == "mock"
    assert QueueProbe(broker_url).depths([deps.publisher.topology.delay(5000)]) == {}  # never made: no retry
    assert provider(deps, "sms").delivered(job.id) == 0


def test_a_scheduled_job_waits_in_the_store_and_is_sent_once_due(make_deps, start_worker, sweeping, broker_url):
    deps = make_deps(sweep_interval_ms=100)
    send_at = clock.now() + timedelta(seconds=1.5)
    start_worker(deps)
    sweeping(deps)
    job = create_job(deps, sms(send_at=send_at))
    assert job.status.value == "scheduled" and job.to_json()["sendAt"] == clock.iso(send_at)
    assert queue_depth(broker_url, deps.publisher.topology.queue) == 0  # held in the store, not in the broker
    wait_for(lambda: status(deps, job.id) == "sent", what="the scheduled job to be sent")
    timeline = deps.jobs.timeline(job.id)
    assert [e.event.value for e in timeline] == ["created", "scheduled", "queued", "sending", "sent"]
    assert timeline[3].created_at >= send_at
    assert provider(deps, "sms").delivered(job.id) == 1


def test_a_scheduled_job_can_be_cancelled_until_it_is_due(api, deps, start_worker, sweeping):
    send_at = clock.iso(clock.now() + timedelta(seconds=1))
    created = api.post("/api/notifications", json={"type": "sms", "recipient": "+2348012345678",
                                                   "message": "Your code is 123456", "sendAt": send_at})
    assert created.status_code == 201 and created.json()["status"] == "scheduled"
    assert created.json()["sendAt"] == send_at
    cancelled = api.post(f"/api/notifications/{created.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    wait_for(passed(datetime.fromisoformat(send_at)), what="the send time to pass")
    assert sweep(deps).released == 0
    assert api.get(f"/api/notifications/{created.json()['id']}").json()["status"] == "cancelled"


def test_jobs_that_fell_due_while_no_worker_ran_are_sent_when_one_returns_unless_they_expired(
        make_deps, start_worker, sweeping):
    deps = make_deps(sweep_interval_ms=100)
    send_at = clock.now() + timedelta(seconds=1)
    due = create_job(deps, sms(send_at=send_at))
    stale = create_job(deps, sms(send_at=send_at, expires_at=send_at + timedelta(milliseconds=500)))
    wait_for(passed(stale.expires_at), what="both to fall due, and one to expire, with no worker running")
    assert status(deps, due.id) == status(deps, stale.id) == "scheduled"
    start_worker(deps)
    sweeping(deps)
    wait_for(lambda: status(deps, due.id) == "sent", what="the due job, sent on return")
    wait_for(lambda: status(deps, stale.id) == "expired", what="the expired one, never sent")
    assert events(deps, stale.id) == ["created", "scheduled", "expired"]
    assert provider(deps, "sms").delivered(stale.id) == 0


def test_two_sweepers_release_a_due_job_once(make_deps):
    first = make_deps(sweep_interval_ms=60_000)
    second = make_deps(mongodb_db=first.settings.mongodb_db, queue=first.settings.queue, sweep_interval_ms=60_000)
    job = create_job(first, sms(send_at=clock.now() + timedelta(milliseconds=300)))
    wait_for(passed(job.send_at), what="the job to fall due")
    assert sweep(first).released + sweep(second).released == 1
    assert events(first, job.id).count("queued") == 1
