"""Observability against the real broker and store: request ids from the API to the worker's
logs, /metrics, /ready.

The metrics registry is process-wide, so every check reads a value before and after (a delta),
never an absolute count.
"""

import dataclasses
import logging
import math
import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from local.wsgi import make_app
from shared import clock
from shared.counters import COUNTERS, CounterStore
from shared.logs import RequestIdFilter
from shared.mongo import connect
from shared.store import JOBS, JobStore
from tests.conftest import unique, wait_for

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/%2F"


def create(api, headers=None, **overrides):
    body = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}
    body.update(overrides)
    return api.post("/api/notifications", json=body, headers=headers or {})


def scrape(client):
    """Every sample of /metrics as {(name, ((label, value), ...)): value}."""
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def unauthenticated(deps):
    return httpx.Client(transport=httpx.WSGITransport(app=make_app(lambda: deps)), base_url="http://wavecom.test")


@pytest.fixture
def records(caplog):
    """Log records of this test, each with the request id that was current when it was logged."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    return caplog


# --- request id ----------------------------------------------------------------------------


def test_a_request_id_sent_with_a_create_is_in_the_workers_log_lines_for_that_job(api, worker, records):
    request_id = unique("req")
    r = create(api, headers={"X-Request-Id": request_id}, metadata={"mockFailures": 1})
    assert r.status_code == 201 and r.headers["x-request-id"] == request_id
    job_id = r.json()["id"]

    def job_lines(message):
        return [rec for rec in records.records if rec.getMessage() == message and getattr(rec, "job_id", None) == job_id]

    # The retry is published while the worker handles the first message: it carries the id too,
    # so the second attempt's line (per job at DEBUG: a line per sent job costs more than its send)
    # still names the request.
    records.set_level(logging.DEBUG, logger="wavecom.delivery")
    sent = wait_for(lambda: job_lines("job sent"), what="the worker's 'job sent' line")
    for line in [*job_lines("job accepted"), *job_lines("retry scheduled"), *sent]:
        assert getattr(line, "request_id", None) == request_id, line.getMessage()
    assert job_lines("job accepted") and job_lines("retry scheduled")
    assert {rec.threadName.split("_")[0] for rec in sent} == {"deliver"}  # logged by the worker


def test_a_request_id_is_made_when_none_is_sent(api):
    first, second = api.get("/health"), api.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("bad", ["", "a" * 129, "has space", "semi;colon", "<script>", "slash/es"])
def test_an_invalid_request_id_is_replaced(api, bad):
    r = api.get("/health", headers={"X-Request-Id": bad})
    assert r.headers["x-request-id"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


def test_a_request_id_of_128_safe_characters_is_kept(api):
    request_id = "A-z_0.9" * 18 + "xx"  # 128 characters
    assert api.get("/health", headers={"X-Request-Id": request_id}).headers["x-request-id"] == request_id


def test_every_answer_carries_a_request_id_404_405_and_401_included(api, deps):
    with unauthenticated(deps) as anonymous:
        answers = [
            api.get("/no/such/path"),
            api.delete("/api/notifications"),
            api.get("/api/notifications/6b05a123e5c6fe8521f2f075"),
            anonymous.get("/api/notifications"),
        ]
    assert [r.status_code for r in answers] == [404, 405, 404, 401]
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]) for r in answers)


# --- /metrics ------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(api):
    job_id = "6b05a123e5c6fe8521f2f075"
    before = scrape(api)
    api.get(f"/api/notifications/{job_id}")
    api.get(f"/no/such/{job_id}")
    api.delete("/api/notifications")
    api.get("/health")
    after = scrape(api)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    requests = "wavecom_http_requests_total"
    assert delta(requests, method="GET", route="/api/notifications/{id}", status="404") == 1
    assert delta(requests, method="GET", route="unmatched", status="404") == 1
    assert delta(requests, method="DELETE", route="/api/notifications", status="405") == 1
    assert delta(requests, method="GET", route="/health", status="200") == 1
    latency = "wavecom_http_request_duration_seconds"
    assert delta(f"{latency}_count", method="GET", route="/api/notifications/{id}") == 1
    assert delta(f"{latency}_bucket", method="GET", route="/api/notifications/{id}", le="+Inf") == 1
    assert sample(after, f"{latency}_sum", method="GET", route="/health") > 0
    # Labels name templates, never the path a client sent.
    assert not any(job_id in value for _, labels in after for _, value in labels)


def test_metrics_show_jobs_by_outcome_retries_and_provider_latency_after_a_delivery(api, worker):
    def counts():
        s = scrape(api)
        return (
            sample(s, "wavecom_jobs_total", outcome="sent"),
            sample(s, "wavecom_jobs_total", outcome="retry_scheduled"),
            sample(s, "wavecom_retries_total", type="sms"),
            sample(s, "wavecom_provider_duration_seconds_count", type="sms", provider="mock", result="ok"),
            sample(s, "wavecom_provider_duration_seconds_count", type="sms", provider="mock", result="transient"),
        )

    before = counts()
    job_id = create(api, metadata={"mockFailures": 1}).json()["id"]
    wait_for(lambda: api.get(f"/api/notifications/{job_id}").json()["status"] == "sent", what="sent")
    # Counted once the outcome is stored, just after the status the API reads.
    wait_for(lambda: counts()[0] > before[0], what="the sent job to be counted")
    assert [a - b for a, b in zip(counts(), before, strict=True)] == [1, 1, 1, 1, 1]


def test_metrics_show_queue_depth_and_the_oldest_pending_jobs_age(api, deps):
    topology = deps.publisher.topology
    assert sample(scrape(api), "wavecom_oldest_pending_job_age_seconds") == 0  # nothing waits yet
    for _ in range(2):
        create(api)  # no worker: both stay in the main queue
    an_hour_ago = clock.now() - timedelta(hours=1)
    deps.jobs.client[deps.settings.mongodb_db][JOBS].insert_one({
        "tenant": "default", "type": "sms", "recipient": "+2348012345678", "message": "m", "metadata": {},
        "status": "pending", "attempts": 0, "maxAttempts": 3, "lastError": None,
        "createdAt": an_hour_ago, "createdAtMs": clock.epoch_ms_of(an_hour_ago), "updatedAt": an_hour_ago,
    })
    s = wait_for(lambda: (s := scrape(api)) and sample(s, "wavecom_queue_messages", queue=topology.queue) == 2 and s,
                 what="two messages in the main queue")
    assert sample(s, "wavecom_queue_messages", queue=topology.dead) == 0
    assert 3600 <= sample(s, "wavecom_oldest_pending_job_age_seconds") < 3700


def test_a_scrape_still_answers_while_the_broker_and_the_store_are_down(make_deps):
    deps = make_deps(rabbitmq_url=UNREACHABLE_BROKER)
    unreachable = connect("mongodb://127.0.0.1:1/", "unreachable", timeout_ms=300)
    down = dataclasses.replace(deps, jobs=JobStore(unreachable[JOBS], CounterStore(unreachable[COUNTERS])))
    with unauthenticated(down) as client:
        s = scrape(client)
    assert math.isnan(sample(s, "wavecom_queue_messages", queue=deps.publisher.topology.queue))
    assert math.isnan(sample(s, "wavecom_oldest_pending_job_age_seconds"))
    assert ("wavecom_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200"))) in s
    unreachable.client.close()


# --- /ready --------------------------------------------------------------------------------


def test_ready_is_200_when_the_store_and_the_broker_answer(deps):
    with unauthenticated(deps) as client:  # no API key needed, nor for /metrics
        r = client.get("/ready")
        assert client.get("/metrics").status_code == 200
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"store": "ok", "broker": "ok"}}


def test_ready_is_a_503_naming_the_broker_when_rabbitmq_is_unreachable(make_deps):
    with unauthenticated(make_deps(rabbitmq_url=UNREACHABLE_BROKER)) as client:
        r = client.get("/ready")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 503 and body["checks"] == {"store": "ok", "broker": "unavailable"}
    assert "broker" in body["detail"] and "store" not in body["detail"]


def test_ready_is_a_503_naming_the_store_when_it_is_unreachable(deps):
    unreachable = connect("mongodb://127.0.0.1:1/", "unreachable", timeout_ms=300)
    down = dataclasses.replace(deps, jobs=JobStore(unreachable[JOBS], CounterStore(unreachable[COUNTERS])))
    with unauthenticated(down) as client:
        r = client.get("/ready")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["checks"] == {"store": "unavailable", "broker": "ok"}
    assert "store" in body["detail"] and "broker" not in body["detail"]
    unreachable.client.close()
