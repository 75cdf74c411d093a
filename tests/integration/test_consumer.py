"""The consumer loop on the real broker: batches are settled whatever happens in them, and a slow
batch never holds up the acks of the others."""

from __future__ import annotations

import threading

import pytest

from local import consumer as consumer_module
from local.consumer import Consumer
from shared.intake import create_job
from shared.model import NewJob
from shared.providers import Provider, Receipt
from tests.conftest import wait_for

SLOW = "+2348011111111"


class Gate(Provider):
    """An SMS provider that holds the recipient SLOW until released; sends the others at once."""

    name = "gate"
    channel = "sms"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, *, job_id, recipient, message, metadata, attempt) -> Receipt:
        if recipient == SLOW:
            assert self.release.wait(timeout=60)
        self.sent.append(job_id)
        return Receipt(message_id=job_id)


@pytest.fixture
def gate(deps):
    provider = Gate()
    deps.providers["sms"] = [provider]
    yield provider
    provider.release.set()


def status(deps, job_id):
    return deps.jobs.get(job_id).status.value


def test_a_slow_batch_does_not_hold_up_the_acks_of_later_ones(make_deps, start_worker, gate):
    deps = make_deps(prefetch=3)
    deps.providers["sms"] = [gate]
    slow = create_job(deps, NewJob("sms", SLOW, "held"))
    quick = [create_job(deps, NewJob("sms", "+2348012345678", f"quick {n}")) for n in range(12)]
    worker = Consumer(deps, max_batch=1)
    start_worker(deps, worker)
    # With its window of 3 held by unacked messages, the worker could send only 2 more.
    wait_for(lambda: all(status(deps, j.id) == "sent" for j in quick), what="every quick job, while one is held")
    assert status(deps, slow.id) == "sending"
    gate.release.set()
    wait_for(lambda: status(deps, slow.id) == "sent", what="the held job once released")


def test_a_batch_whose_handling_raises_is_returned_and_delivered_later(deps, start_worker, monkeypatch):
    real, calls = consumer_module.handle_through_outages, []

    def broken_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the loop")
        return real(*args, **kwargs)

    monkeypatch.setattr(consumer_module, "handle_through_outages", broken_once)
    job = create_job(deps, NewJob("sms", "+2348012345678", "hi"))
    start_worker(deps)
    wait_for(lambda: status(deps, job.id) == "sent", what="the job, after its batch was returned")
    assert len(calls) >= 2
