"""Messages no delivery can come of: dead-lettered, and the worker keeps going."""

import json

import pika

from shared.broker import REASON_HEADER
from shared.intake import create_job
from shared.model import NewJob
from tests.conftest import wait_for


def publish_raw(url, queue, body):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def dead_letters(url, queue):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    found = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            headers = properties.headers or {}
            found.append((body, headers.get(REASON_HEADER) or headers.get("x-first-death-reason")))
    finally:
        connection.close()


def test_poison_messages_are_dead_lettered_with_their_reason(deps, worker, broker_url):
    topo = deps.publisher.topology
    publish_raw(broker_url, topo.queue, b"this is not json")
    publish_raw(broker_url, topo.queue, json.dumps({"jobId": "6b05a123e5c6fe8521f2f075"}).encode())
    publish_raw(broker_url, topo.queue, json.dumps({"job": 1}).encode())
    collected = []
    wait_for(lambda: collected.extend(dead_letters(broker_url, topo.dead)) or len(collected) == 3,
             what="three dead letters")
    assert sorted(reason for _, reason in collected) == [
        "message body is not JSON", "message has no jobId", "no job has this id",
    ]
    # The worker is still consuming.
    job = create_job(deps, NewJob("push", "token-123456", "still alive"))
    wait_for(lambda: deps.jobs.get(job.id).status.value == "sent", what="a job after the poison")


def test_a_provider_that_raises_an_unexpected_error_uses_up_the_budget_and_fails(deps, worker):
    class Broken:
        name = "broken"
        channel = "sms"

        def send(self, **kwargs):
            raise RuntimeError("a bug in a provider adapter, +2348012345678")

    deps.providers["sms"] = [Broken()]
    job = create_job(deps, NewJob("sms", "+2348012345678", "hi"))
    wait_for(lambda: deps.jobs.get(job.id).status.value == "failed", what="the job to fail")
    failed = deps.jobs.get(job.id)
    assert failed.attempts == failed.max_attempts
    assert failed.last_error == "unexpected provider error (RuntimeError)"


def test_a_message_whose_handling_keeps_raising_is_dead_lettered_after_the_delivery_limit(
    deps, worker, broker_url, monkeypatch
):
    job = create_job(deps, NewJob("sms", "+2348012345678", "hi"))

    def broken_claim(*args, **kwargs):
        raise RuntimeError("a bug before the claim")

    monkeypatch.setattr(deps.jobs, "claim_many", broken_claim)
    publish_raw(broker_url, deps.publisher.topology.queue, json.dumps({"jobId": job.id}).encode())
    collected = []
    wait_for(lambda: collected.extend(dead_letters(broker_url, deps.publisher.topology.dead)) or collected,
             timeout=30, what="the message to reach the dead-letter queue")
    assert json.loads(collected[0][0]) == {"jobId": job.id}
    assert collected[0][1] == f"handler error (RuntimeError) after {deps.settings.delivery_limit} deliveries"
