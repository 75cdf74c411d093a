"""Webhooks survive their consumer's death: 200 jobs are sent while the receiver holds its
answers and the webhooks consumer is killed with SIGKILL mid-delivery; a new consumer picks up
the messages the broker gives back. Every job's `sent` event reaches the receiver at least once,
each signed, and no marker is left behind."""

from __future__ import annotations

import signal
import threading

import pytest
from standardwebhooks import Webhook

from tests.conftest import delete_stack_queues, register_webhook, unique, wait_for
from tests.faults.harness import Stack, create_many, wait_terminal
from tests.receiver import receiver

pytestmark = pytest.mark.timeout(240)
JOBS = 200


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    s = Stack(tmp_path, store_uri, broker_url, unique("hookfault-jobs"), unique("hookfault").replace("-", "_"),
              extra_env={"WAVECOM_WEBHOOK_ALLOW_PRIVATE": "1", "WAVECOM_WEBHOOK_CONCURRENCY": "4",
                         "WAVECOM_METRICS_PORT": "0"})
    yield s
    s.stop()
    s.deps().jobs.client.drop_database(s.db)
    delete_stack_queues(broker_url, s.queue)


def test_a_killed_webhooks_consumer_loses_no_event(stack):
    import httpx

    stack.api()
    stack.spawn("worker")
    held = threading.Event()
    with receiver(hold=held) as hook, httpx.Client(base_url=stack.base, timeout=30,
                                                  headers={"Authorization": f"Bearer {stack.key}"}) as api:
        secret = register_webhook(api, hook.url, ["sent"])["secret"]
        doomed = stack.spawn("webhooks")
        answers = create_many(stack, JOBS, type="sms", recipient="+2348012345678", message="Your code is 123456")
        ids = [r.json()["id"] for r in answers]
        deps = stack.deps()
        wait_terminal(deps, ids)
        wait_for(lambda: hook.requests, what="the first deliveries to be in flight")
        doomed.send_signal(signal.SIGKILL)  # mid-delivery: its messages were never acked
        doomed.wait()
        held.set()
        stack.spawn("webhooks")
        got = wait_for(lambda: (seen := {r.json["data"]["id"] for r in hook.of_type("notification.sent")})
                       >= set(ids) and seen, timeout=120, what="every job's sent event")
        assert got >= set(ids)
        for request in hook.of_type("notification.sent"):
            Webhook(secret).verify(request.body, request.headers)
        wait_for(lambda: deps.jobs._c.count_documents({"hooksAtMs": {"$exists": True}}) == 0, timeout=60,
                 what="every marker to be pulled")
        events = {r.headers["webhook-id"] for r in hook.of_type("notification.sent")}
        assert len(events) == JOBS  # one event per job, however many times it came
