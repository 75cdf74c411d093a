"""The Lambda entry points on the real broker and store: message headers, dead letters, the
sweeper, and the store prepared on a cold start."""

import base64
import json
import uuid

import pika
import pytest
from chalice.test import Client

from functions.app import app
from shared import bootstrap
from shared.broker import REASON_HEADER
from shared.intake import create_job
from shared.model import NewJob
from shared.states import Status
from shared.store import JOBS
from tests.conftest import provider, wait_for

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"


@pytest.fixture
def lambdas():
    """Invoke the app's functions; the test says which dependencies they get."""
    with Client(app) as client:
        yield client
    bootstrap.override(None)


def as_lambda_sends(value):
    """An AMQP string header as the Amazon MQ event carries it."""
    return {"bytes": list(value.encode())}


def mq_event(queue, *messages):
    """An Amazon MQ for RabbitMQ event: (body, headers) pairs."""
    return {
        "eventSource": "aws:rmq",
        "rmqMessagesByQueue": {
            f"{queue}::/": [
                {"basicProperties": {"headers": headers, "deliveryMode": 2}, "redelivered": False,
                 "data": base64.b64encode(body).decode()}
                for body, headers in messages
            ]
        },
    }


def dead_letters(url, queue):
    """Take every message off a dead-letter queue: (body, headers)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel, taken = connection.channel(), []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((body, properties.headers))
    finally:
        connection.close()


def test_a_poison_message_is_dead_lettered_with_its_reason_and_request_id(lambdas, deps, broker_url):
    bootstrap.override(deps)
    job = create_job(deps, NewJob("sms", "+2348012345678", "Your code is 123456"))
    request_id = uuid.uuid4().hex
    event = mq_event(
        deps.settings.queue,
        (json.dumps({"jobId": job.id}).encode(), {"x-request-id": as_lambda_sends(request_id)}),
        (b"not json", {"x-request-id": as_lambda_sends(request_id), "x-delivery-count": 1}),
    )
    assert lambdas.lambda_.invoke("dispatch", event).payload == {"outcomes": ["sent", "dead_lettered"]}
    assert provider(deps, "sms").delivered(job.id) == 1
    ((body, headers),) = dead_letters(broker_url, deps.publisher.topology.dead)
    assert body == b"not json"
    assert headers[REASON_HEADER] == "message body is not JSON"
    assert headers["x-request-id"] == request_id


def test_a_batch_whose_retry_cannot_be_published_raises_so_it_comes_back(lambdas, make_deps):
    offline = make_deps(rabbitmq_url=UNREACHABLE, retry_base_ms=200, mock_failure_rate=1.0)
    bootstrap.override(offline)
    job = create_job(offline, NewJob("sms", "+2348012345678", "Your code is 123456"))
    # The provider fails, so the retry must be published, and the broker is away: the lambda
    # raises (Amazon MQ hands the batch back) instead of returning (the batch would be acked).
    with pytest.raises(Exception, match="RabbitMQ"):
        lambdas.lambda_.invoke("dispatch", mq_event(offline.settings.queue, (json.dumps({"jobId": job.id}).encode(), {})))
    # Stored before the publish: the claim takes the job from `retrying` when the batch returns.
    assert offline.jobs.get(job.id).status is Status.RETRYING


def test_the_sweeper_queues_jobs_stored_while_the_broker_was_away(lambdas, make_deps):
    offline = make_deps(rabbitmq_url=UNREACHABLE)
    job = create_job(offline, NewJob("sms", "+2348012345678", "Your code is 123456"))
    assert job.status is Status.PENDING
    bootstrap.override(make_deps(outbox_grace_ms=0))
    tick = lambdas.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    wait_for(lambda: lambdas.lambda_.invoke("sweeper", tick).payload["published"] == 1, what="a sweep to publish")
    assert offline.jobs.get(job.id).status is Status.QUEUED


def test_a_cold_start_prepares_the_store_like_wavecom_api(lambdas, make_deps):
    key = f"wk_{uuid.uuid4().hex}"
    deps = make_deps(bootstrap_key=key)
    deps.jobs.client[deps.settings.mongodb_db][JOBS].drop_indexes()
    bootstrap.override(deps)
    listed = lambdas.http.get("/api/notifications", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    indexes = deps.jobs.client[deps.settings.mongodb_db][JOBS].index_information()
    assert any([k for k, _ in spec["key"]] == ["tenant", "createdAtMs"] for spec in indexes.values())
