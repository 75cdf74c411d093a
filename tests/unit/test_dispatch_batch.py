"""`dispatch.handle_batch`, the Lambda's batch: what is acked, what comes back, what is dead-lettered.

The event source acks a whole batch when the function returns and hands it all back when it
raises, so the function may return only once every message's outcome is stored.
"""

import base64
import json
import time
from types import SimpleNamespace

import pytest

from functions import dispatch
from shared import messages
from shared.config import Settings
from shared.delivery import Outcome
from shared.errors import BrokerUnavailable, StoreUnavailable
from shared.messages import Message


class FakePublisher:
    def __init__(self):
        self.dead = []
        self.topology = SimpleNamespace(dead="jobs.dead")

    def dead_letter(self, body, reason, headers=None):
        self.dead.append((body, reason, headers))


class FakeJobs:
    def note(self, job_id, entry, known=None):
        return False  # no such job


def make_deps(**settings):
    return SimpleNamespace(settings=Settings(**settings), publisher=FakePublisher(), jobs=FakeJobs())


def message(job_id, **headers):
    return Message(json.dumps({"jobId": job_id}).encode(), headers)


@pytest.fixture
def outcomes(monkeypatch):
    """What delivering each job id does: an Outcome, an exception (a bug raises from the whole
    batch's delivery; a store or broker outage is that job's result), a function to call, or a
    list of those taken in turn (the last one repeats). Ids not planned are no job."""
    plan = {}
    batches = []

    def deliver(deps, job_ids, requests=None, copies=None):
        batches.append(list(job_ids))
        done = {}
        for job_id in job_ids:
            if job_id not in plan:
                continue
            step = plan[job_id]
            if isinstance(step, list):
                step = step.pop(0) if len(step) > 1 else step[0]
            if callable(step):
                step = step()
            if isinstance(step, BaseException) and not isinstance(step, (StoreUnavailable, BrokerUnavailable)):
                raise step
            done[job_id] = step
        return done

    monkeypatch.setattr(messages, "deliver", deliver)
    plan["batches"] = batches
    return plan


def test_a_batch_returns_each_outcome_in_order_and_dead_letters_poison(outcomes):
    deps = make_deps()
    outcomes.update(a=Outcome.SENT, b=Outcome.RETRY_SCHEDULED)
    batch = [message("a"), Message(b"not json", {"x-request-id": "req-1"}), message("b"), message("gone")]
    assert dispatch.handle_batch(batch, deps) == ["sent", "dead_lettered", "retry_scheduled", "dead_lettered"]
    assert deps.publisher.dead[0] == (b"not json", "message body is not JSON", {"x-request-id": "req-1"})
    assert deps.publisher.dead[1][1] == "no job has this id"


def test_a_store_outage_hands_the_whole_batch_back_after_dead_lettering_the_poison(outcomes):
    deps = make_deps()
    outcomes.update(a=Outcome.SENT, b=StoreUnavailable("MongoDB is unreachable"))
    with pytest.raises(StoreUnavailable):
        dispatch.handle_batch([message("a"), message("b"), Message(b"not json")], deps)
    assert [reason for _, reason, _ in deps.publisher.dead] == ["message body is not JSON"]


def test_a_broker_outage_on_a_retry_publish_hands_the_batch_back(outcomes):
    outcomes.update(a=BrokerUnavailable("RabbitMQ is unreachable"))
    with pytest.raises(BrokerUnavailable):
        dispatch.handle_batch([message("a")], make_deps())


def test_an_outage_shorter_than_the_hold_is_waited_out_for_the_held_messages_only(outcomes):
    outcomes.update(a=[StoreUnavailable("failover"), Outcome.SENT], b=Outcome.SENT)
    assert dispatch.handle_batch([message("a"), message("b")], make_deps(), hold_s=10) == ["sent", "sent"]
    assert outcomes["batches"] == [["a", "b"], ["a"]]


def test_an_outage_longer_than_the_hold_is_raised(outcomes):
    outcomes.update(a=StoreUnavailable("down"))
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        dispatch.handle_batch([message("a")], make_deps(), hold_s=0.5)
    assert time.monotonic() - started < 5


def test_a_handler_bug_hands_the_batch_back_until_its_deliveries_run_out(outcomes):
    deps = make_deps(delivery_limit=5)
    outcomes.update(a=RuntimeError("bug"), b=Outcome.SENT)
    with pytest.raises(RuntimeError):
        dispatch.handle_batch([message("a", **{"x-delivery-count": 3}), message("b")], deps)
    assert deps.publisher.dead == []
    last = message("a", **{"x-delivery-count": 4})
    assert dispatch.handle_batch([last, message("b")], deps) == ["dead_lettered", "sent"]
    assert deps.publisher.dead[0][1] == "handler error (RuntimeError) after 5 deliveries"


def test_a_job_that_triggers_a_bug_is_delivered_alone_so_its_batch_mates_still_go_out(outcomes):
    outcomes.update(a=Outcome.SENT, b=RuntimeError("bug"), c=Outcome.SENT)
    results = messages.handle(make_deps(), [message("a"), message("b"), message("c")])
    assert results[0] is Outcome.SENT and results[2] is Outcome.SENT
    assert isinstance(results[1], RuntimeError)
    assert outcomes["batches"] == [["a", "b", "c"], ["a"], ["b"], ["c"]]


def test_two_messages_for_one_job_in_a_batch_share_its_single_delivery(outcomes):
    outcomes.update(a=Outcome.SENT)
    assert dispatch.handle_batch([message("a"), message("a")], make_deps()) == ["sent", "skipped"]
    assert outcomes["batches"] == [["a"]]


def test_an_empty_batch_delivers_nothing(outcomes):
    assert dispatch.handle_batch([], make_deps()) == []


def java_bytes(text):
    """A string header as Lambda's Amazon MQ event carries it: Java's signed bytes."""
    return {"bytes": [b - 256 if b > 127 else b for b in text.encode()]}


def test_an_amazon_mq_event_becomes_its_messages_with_their_headers():
    event = {
        "eventSource": "aws:rmq",
        "rmqMessagesByQueue": {
            "jobs::/": [
                {"basicProperties": {"headers": {"x-request-id": java_bytes("req-1"), "x-delivery-count": 2}},
                 "redelivered": True, "data": base64.b64encode(b'{"jobId": "a"}').decode()},
                {"basicProperties": {"headers": None}, "redelivered": False, "data": base64.b64encode(b"x").decode()},
            ],
            "other::/": [{"basicProperties": {"headers": {"note": java_bytes("café ✓")}}, "data": ""}],
        },
    }
    first, second, third = dispatch.messages_of(event)
    assert first == Message(b'{"jobId": "a"}', {"x-request-id": "req-1", "x-delivery-count": 2})
    assert first.deliveries == 3
    assert second == Message(b"x", {}) and second.deliveries == 1
    assert third.headers == {"note": "café ✓"}
    assert dispatch.messages_of({}) == []
