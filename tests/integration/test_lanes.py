"""Priority lanes on the real broker and store: each priority is published to its own lane, a
worker consumes each lane with a window of its own, and a retry goes back to its own lane."""

from __future__ import annotations

import threading

from local.consumer import Consumer
from shared.intake import create_job, create_jobs
from shared.model import NewJob, Priority
from shared.providers import Provider, Receipt
from tests.conftest import events, provider, queue_depth, wait_for

HELD = "+2348011111111"


def sms(priority: Priority = Priority.NORMAL, recipient: str = "+2348012345678", **metadata: object) -> NewJob:
    return NewJob("sms", recipient, "Your code is 123456", dict(metadata), priority=priority)


class Holding(Provider):
    """An SMS provider that holds the recipient HELD until released and sends the rest at once."""

    name = "mock"
    channel = "sms"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, *, job_id, recipient, message, metadata, attempt) -> Receipt:
        if recipient == HELD:
            assert self.release.wait(timeout=60)
        self.sent.append(job_id)
        return Receipt(message_id=job_id)


def test_each_priority_is_published_to_its_lane(deps, broker_url):
    jobs = create_jobs(deps, [sms(Priority.HIGH), sms(Priority.LOW), sms(Priority.LOW), sms()])
    topology = deps.publisher.topology
    assert [queue_depth(broker_url, topology.lane(p)) for p in (Priority.HIGH, Priority.NORMAL, Priority.LOW)] == [1, 1, 2]
    assert topology.lane(Priority.HIGH) == f"{deps.settings.queue}.high"
    queued = [e.details["queue"] for j in jobs for e in deps.jobs.timeline(j.id) if e.event.value == "queued"]
    assert queued == [topology.lane(Priority.HIGH), topology.lane(Priority.LOW), topology.lane(Priority.LOW),
                      deps.settings.queue]


def test_a_high_job_is_sent_while_every_low_message_a_worker_holds_is_stuck(make_deps, start_worker):
    deps = make_deps(prefetch=2, lane_prefetch={"low": 2, "high": 2})
    holding = Holding()
    deps.providers["sms"] = [holding]
    try:
        stuck = [create_job(deps, sms(Priority.LOW, HELD)) for _ in range(4)]
        start_worker(deps, Consumer(deps, max_batch=1))
        wait_for(lambda: sum(deps.jobs.get(j.id).status.value == "sending" for j in stuck) == 2,
                 what="the low lane's window full of held messages")
        urgent = create_job(deps, sms(Priority.HIGH))
        normal = create_job(deps, sms())
        wait_for(lambda: deps.jobs.get(urgent.id).status.value == "sent", what="the high job, past the low backlog")
        wait_for(lambda: deps.jobs.get(normal.id).status.value == "sent", what="the normal job too")
        assert sum(deps.jobs.get(j.id).status.value == "queued" for j in stuck) == 2  # still waiting their turn
    finally:
        holding.release.set()
    wait_for(lambda: all(deps.jobs.get(j.id).status.value == "sent" for j in stuck), what="the low jobs, released")


def test_a_retry_waits_in_its_own_lanes_delay_queue_and_comes_back_to_that_lane(make_deps, start_worker, broker_url):
    deps = make_deps(retry_base_ms=1000)
    start_worker(deps)
    job = create_job(deps, sms(Priority.LOW, mockFailures=1))
    delay_queue = deps.publisher.topology.delay(1000, Priority.LOW)
    assert delay_queue == f"{deps.settings.queue}.low.retry.1000"
    wait_for(lambda: deps.jobs.get(job.id).status.value == "retrying" and queue_depth(broker_url, delay_queue) == 1,
             what="the retry in the low lane's delay queue")
    wait_for(lambda: deps.jobs.get(job.id).status.value == "sent", what="the retry, sent")
    assert events(deps, job.id) == ["created", "queued", "sending", "retry_scheduled", "sending", "sent"]
    assert provider(deps, "sms").delivered(job.id) == 1


def test_a_batch_create_puts_each_item_in_the_lane_it_asks_for(api, deps, broker_url):
    body = [{"type": "sms", "recipient": "+2348012345678", "message": "code", "priority": "high"},
            {"type": "push", "recipient": "token-1", "message": "sale", "priority": "low"},
            {"type": "email", "recipient": "ada@example.com", "message": "hello"}]
    answer = api.post("/api/notifications/batch", json=body)
    assert answer.status_code == 201
    items = answer.json()["items"]
    assert [i.get("priority") for i in items] == ["high", "low", None]  # normal is the default, left out
    topology = deps.publisher.topology
    assert [queue_depth(broker_url, topology.lane(p)) for p in (Priority.HIGH, Priority.NORMAL, Priority.LOW)] == [1, 1, 1]
    assert api.get(f"/api/notifications/{items[0]['id']}").json()["priority"] == "high"
