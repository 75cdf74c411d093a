"""Webhooks end to end on the real broker and store, to a real HTTP receiver on loopback:
registered over the API, signed per Standard Webhooks, retried on the schedule, disabled after
the last try, published again by the sweeper, and never in a worker's way."""

import json
import threading

import pika
from standardwebhooks import Webhook

from shared import outbox
from shared.intake import create_job
from shared.model import NewJob
from tests.conftest import queue_depth, wait_for
from tests.conftest import register_webhook as register
from tests.receiver import receiver


def make_job(**overrides):
    fields = {"type": "email", "recipient": "ada@example.com", "message": "Your code is 123456",
              "metadata": {"ref": "C-1"}}
    return NewJob(**{**fields, **overrides})


def stored(deps, job_id):
    from shared.store import object_id

    return deps.jobs._c.find_one({"_id": object_id(job_id)})


def test_a_sent_job_is_posted_once_signed_without_its_message(deps, api, worker, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        endpoint = register(api, hook.url)
        assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == [
            "sent", "failed", "expired", "cancelled", "delivered", "bounced", "complained"]
        job = api.post("/api/notifications", json={"type": "email", "recipient": "ada@example.com",
                                                   "message": "Your code is 123456", "metadata": {"ref": "C-1"}}).json()
        got = wait_for(lambda: hook.of_type("notification.sent"), what="the sent event")[0]
        Webhook(endpoint["secret"]).verify(got.body, got.headers)  # raises unless signed with it
        body = got.json
        assert body["data"]["id"] == job["id"] and body["data"]["status"] == "sent"
        assert "message" not in body["data"] and "metadata" not in body["data"]
        assert body["timestamp"].endswith("Z")
        attempts = wait_for(lambda: api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json(), what="a delivery")
        assert attempts[0]["eventId"] == got.headers["webhook-id"] and attempts[0]["statusCode"] == 200
        assert attempts[0]["attempt"] == 1 and attempts[0]["jobId"] == job["id"]
        assert api.get(f"/api/notifications/{job['id']}/deliveries").json()[0]["eventId"] == got.headers["webhook-id"]
        wait_for(lambda: "hooksAtMs" not in stored(deps, job["id"]), what="the marker to be pulled")
        assert stored(deps, job["id"])["hooks"] == []
        assert len(hook.of_type("notification.sent")) == 1


def test_the_marker_is_stored_with_the_event_and_waits_in_the_webhooks_queue(deps, api, worker, start_hooks,
                                                                              broker_url):
    with receiver() as hook:
        register(api, hook.url, ["sent"])
        job = create_job(deps, make_job())
        doc = wait_for(lambda: (d := stored(deps, job.id))["status"] == "sent" and d, what="the job to be sent")
        assert [m.split(":")[0] for m in doc["hooks"]] == ["sent"] and doc["hooksAtMs"] > 0
        assert wait_for(lambda: queue_depth(broker_url, deps.publisher.topology.webhooks), what="the message") == 1
        start_hooks(deps)  # only now is anything delivered
        wait_for(lambda: hook.of_type("notification.sent"), what="the sent event")
        wait_for(lambda: stored(deps, job.id)["hooks"] == [], what="the marker to be pulled")


def test_receiver_errors_are_retried_on_the_schedule_with_one_webhook_id(make_deps, api_for, start_worker,
                                                                         start_hooks):
    deps = make_deps(webhook_retry_delays_ms=(300, 600, 300, 300, 300, 300, 300))
    start_worker(deps)
    start_hooks(deps)
    api = api_for(deps)
    with receiver(statuses=[500, 503]) as hook:
        endpoint = register(api, hook.url, ["sent"])
        create_job(deps, make_job())
        wait_for(lambda: len(hook.requests) >= 3, what="three tries")
        ids = {r.headers["webhook-id"] for r in hook.requests}
        assert len(ids) == 1
        tries = wait_for(lambda: (t := api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()) and len(t) == 3
                         and t, what="three recorded tries")
        assert [(t["attempt"], t["statusCode"]) for t in reversed(tries)] == [(1, 500), (2, 503), (3, 200)]
        assert all(t["durationMs"] is not None for t in tries)
    assert api.get("/api/webhooks").json()[0]["enabled"] is True


def test_an_endpoint_failing_every_try_is_disabled_with_the_reason_and_can_be_enabled(make_deps, api_for,
                                                                                     start_worker, start_hooks):
    deps = make_deps(webhook_retry_delays_ms=(100,) * 7)
    start_worker(deps)
    start_hooks(deps)
    api = api_for(deps)
    with receiver(statuses=[500] * 8) as hook:
        endpoint = register(api, hook.url, ["sent"])
        create_job(deps, make_job())
        shown = wait_for(lambda: (e := api.get("/api/webhooks").json()[0]) and not e["enabled"] and e,
                         what="the endpoint to be disabled")
        assert len(hook.requests) == 8
        assert "8 failed tries" in shown["disabledReason"] and "HTTP 500" in shown["disabledReason"]
        again = api.post(f"/api/webhooks/{endpoint['id']}/enable")
        assert again.status_code == 200 and again.json()["enabled"] is True and again.json()["disabledReason"] is None


def test_a_disabled_endpoint_gets_no_events(deps, api, worker, start_hooks):
    start_hooks(deps)
    with receiver() as quiet, receiver() as loud:
        first = register(api, quiet.url, ["sent"])
        register(api, loud.url, ["sent"])
        deps.webhooks.disable(first["id"], "by the test")
        deps.webhooks.forget("default")
        create_job(deps, make_job())
        wait_for(lambda: loud.of_type("notification.sent"), what="the enabled endpoint's event")
        assert quiet.requests == []


def test_an_endpoint_gets_only_the_events_it_names(deps, api, worker, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        register(api, hook.url, ["failed"])
        create_job(deps, make_job())
        rejected = create_job(deps, make_job(recipient="reject@example.com"))  # a permanent failure
        got = wait_for(lambda: hook.of_type("notification.failed"), what="the failed event")
        assert got[0].json["data"]["id"] == rejected.id and got[0].json["data"]["lastError"]
        assert [r.json["type"] for r in hook.requests] == ["notification.failed"]


def test_a_cancelled_job_fires_its_event(deps, api, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        register(api, hook.url, ["cancelled"])
        job = api.post("/api/notifications", json={"type": "sms", "recipient": "+2348012345678",
                                                   "message": "later", "sendAt": "2099-01-01T00:00:00Z"})
        assert job.status_code == 400  # more than 30 days ahead
        job = create_job(deps, make_job())  # queued, and no worker runs
        assert api.post(f"/api/notifications/{job.id}/cancel").status_code == 200
        got = wait_for(lambda: hook.of_type("notification.cancelled"), what="the cancelled event")
        assert got[0].json["data"]["status"] == "cancelled"


def test_the_sweeper_publishes_a_marker_whose_message_was_lost(make_deps, api_for, start_worker, start_hooks,
                                                               broker_url):
    deps = make_deps(requeue_after_ms=1000)
    start_worker(deps)
    api = api_for(deps)
    with receiver() as hook:
        register(api, hook.url, ["sent"])
        job = create_job(deps, make_job())
        wait_for(lambda: queue_depth(broker_url, deps.publisher.topology.webhooks), what="the message")
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        connection.channel().queue_purge(deps.publisher.topology.webhooks)  # the message is lost
        connection.close()
        start_hooks(deps)
        wait_for(lambda: outbox.sweep(deps, lost=False).webhooks, what="the sweeper to publish it again")
        got = wait_for(lambda: hook.of_type("notification.sent"), what="the sent event")
        assert got[0].json["data"]["id"] == job.id
        wait_for(lambda: "hooksAtMs" not in stored(deps, job.id), what="the marker to be pulled")
        assert outbox.sweep(deps, lost=False).webhooks == 0


def test_a_rotated_secret_and_the_old_one_both_verify_a_test_event(deps, api, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        endpoint = register(api, hook.url)
        rotated = api.post(f"/api/webhooks/{endpoint['id']}/rotate")
        assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint["secret"]
        queued = api.post(f"/api/webhooks/{endpoint['id']}/test")
        assert queued.status_code == 202
        got = wait_for(lambda: hook.of_type("webhook.test"), what="the test event")[0]
        assert got.headers["webhook-id"] == queued.json()["eventId"]
        Webhook(rotated.json()["secret"]).verify(got.body, got.headers)
        Webhook(endpoint["secret"]).verify(got.body, got.headers)
        assert "secret" not in api.get("/api/webhooks").json()[0]


def test_a_receiver_that_hangs_leaves_delivery_to_the_workers(make_deps, start_worker, start_hooks, api_for):
    deps = make_deps(webhook_concurrency=2)
    api = api_for(deps)
    held = threading.Event()
    with receiver(hold=held) as hook:
        register(api, hook.url, ["sent"])
        start_hooks(deps)
        start_worker(deps)
        jobs = [create_job(deps, make_job()) for _ in range(60)]
        # Every job is sent while the receiver holds both of the consumer's deliveries.
        wait_for(lambda: all(deps.jobs.get(j.id).status.value == "sent" for j in jobs), what="all sent")
        assert len(hook.requests) <= 2
        held.set()
        wait_for(lambda: len({r.json["data"]["id"] for r in hook.of_type("notification.sent")}) == 60,
                 what="every event once the receiver answers")


def test_registration_refuses_bad_input_naming_the_field(make_deps, api_for):
    deps = make_deps(webhook_allow_private=False)
    api = api_for(deps)
    cases = [({"url": "http://hooks.example.com/x"}, "url"), ({"url": "https://127.0.0.1/x"}, "url"),
             ({"url": "https://10.0.0.8/x"}, "url"), ({"url": "https://[::1]/x"}, "url"),
             ({"url": "https://169.254.169.254/latest"}, "url"),
             ({"url": "https://93.184.215.14/x", "events": ["opened"]}, "events"),
             ({"url": "https://93.184.215.14/x", "events": []}, "events"),
             ({"url": "https://93.184.215.14/x", "extra": 1}, "extra"), ({}, "url")]
    for body, field in cases:
        answer = api.post("/api/webhooks", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(e["field"].split(".")[0] == field for e in answer.json()["errors"]), (body, answer.json())
    assert deps.webhooks.of_tenant("default") == []


def test_endpoints_are_the_tenants_own(deps, api_as):
    mine, theirs = api_as("acme"), api_as("globex")
    with receiver() as hook:
        endpoint = register(mine, hook.url)
        assert theirs.get("/api/webhooks").json() == []
        assert theirs.delete(f"/api/webhooks/{endpoint['id']}").status_code == 404
        assert theirs.get(f"/api/webhooks/{endpoint['id']}/deliveries").status_code == 404
        assert mine.delete(f"/api/webhooks/{endpoint['id']}").status_code == 204
        assert mine.get("/api/webhooks").json() == []
        assert mine.delete(f"/api/webhooks/{endpoint['id']}").status_code == 404


def test_the_webhooks_lambda_delivers_a_batch_and_dead_letters_what_is_not_a_webhook(deps, api, broker_url):
    from functions.hookdispatch import handle_batch
    from shared.messages import Message

    with receiver() as hook:
        endpoint = register(api, hook.url)
        good = Message(json.dumps({"webhookId": endpoint["id"], "test": "msg_lambda", "at": 1767225600000,
                                   "attempt": 1}).encode(), {})
        assert handle_batch([good, Message(b"not json", {})], deps) == ["handled", "dead_lettered"]
        assert [r.headers["webhook-id"] for r in hook.of_type("webhook.test")] == ["msg_lambda"]
    assert queue_depth(broker_url, deps.publisher.topology.dead) == 1
