"""Delivery receipts and the suppression list on the real broker and store: the mock email
provider's bounces and complaints, SNS posts verified against a certificate made here, and what
a suppressed recipient's next job does."""

import json

import httpx
import pytest

from functions import receipts as route
from local.wsgi import make_app
from shared.intake import create_job
from shared.model import NewJob
from shared.snsreceipts import CertificateCache
from shared.store import object_id
from tests.conftest import events, provider, register_webhook, wait_for
from tests.receiver import receiver
from tests.snssign import CERT_URL, TOPIC, make_signer, notification, ses_delivery


def email(recipient, **overrides):
    return NewJob(**{"type": "email", "recipient": recipient, "message": "Your code is 123456", "metadata": {},
                     **overrides})


def ended(deps, job_id, status):
    return wait_for(lambda: (j := deps.jobs.get(job_id)).status.value == status and j, what=f"{job_id} {status}")


def with_event(deps, job_id, event):
    return wait_for(lambda: event in events(deps, job_id) and events(deps, job_id), what=f"{job_id} {event}")


@pytest.fixture
def signer(monkeypatch):
    """SNS's certificate, as the route fetches it, stood in for by one made here."""
    made = make_signer()
    monkeypatch.setattr(route, "CERTIFICATES", CertificateCache(fetch=lambda url: made.fetched.append(url) or made.pem))
    return made


@pytest.fixture
def sns(make_deps):
    """Dependencies whose receipts route trusts the test topic, and a client with no API key."""
    deps = make_deps(sns_topic_arns=(TOPIC,))
    client = httpx.Client(transport=httpx.WSGITransport(app=make_app(lambda: deps)), base_url="http://wavecom.test")
    yield deps, client
    client.close()


def post(client, message):
    return client.post("/api/receipts/sns", content=json.dumps(message), headers={"content-type": "text/plain"})


def test_a_hard_bounce_is_on_the_timeline_and_suppresses_the_recipient(deps, api, worker, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        register_webhook(api, hook.url, ["bounced"])
        first = create_job(deps, email("ada@bounce.example.com"))
        timeline = with_event(deps, first.id, "bounced")
        assert timeline[-2:] == ["sent", "bounced"] and deps.jobs.get(first.id).status.value == "sent"
        got = wait_for(lambda: hook.of_type("notification.bounced"), what="the bounced webhook")
        assert got[0].json["data"]["id"] == first.id
    listed = api.get("/api/suppressions").json()
    assert [(s["recipient"], s["reason"], s["jobId"]) for s in listed] == [
        ("a***@bounce.example.com", "bounce", first.id)]
    assert len(listed[0]["hash"]) == 64
    again = create_job(deps, email("ADA@Bounce.example.com"))  # the same person
    failed = ended(deps, again.id, "failed")
    assert failed.last_error.startswith("suppressed") and failed.attempts == 0
    assert events(deps, again.id) == ["created", "queued", "suppressed"]
    assert provider(deps, "email").delivered(again.id) == 0


def test_the_store_keeps_a_suppression_as_a_hash_never_the_address(deps, api):
    assert api.post("/api/suppressions", json={"recipient": "grace@example.com"}).status_code == 201
    docs = list(deps.jobs.client[deps.settings.mongodb_db]["suppressions"].find())
    assert len(docs) == 1 and "grace@example.com" not in json.dumps(docs, default=str)
    assert docs[0]["masked"] == "g***@example.com"


def test_a_complaint_suppresses_and_delivered_does_not(deps, api, worker):
    complained = create_job(deps, email("bo@complaint.example.com"))
    delivered = create_job(deps, email("cy@delivered.example.com"))
    with_event(deps, complained.id, "complained")
    with_event(deps, delivered.id, "delivered")
    assert [s["reason"] for s in api.get("/api/suppressions").json()] == ["complaint"]


def test_suppressions_are_added_listed_and_lifted_by_hand(deps, api, worker):
    assert api.post("/api/suppressions", json={"recipient": "+2348012345678"}).status_code == 201
    assert api.post("/api/suppressions", json={"recipient": "+2348012345678"}).json()["added"] is False
    blocked = create_job(deps, NewJob(type="sms", recipient="+2348012345678", message="hi", metadata={}))
    assert ended(deps, blocked.id, "failed").last_error.startswith("suppressed")
    entry = api.get("/api/suppressions").json()[0]
    assert entry["recipient"] == "+234*******678" and entry["reason"] == "manual"
    assert api.delete(f"/api/suppressions/{entry['hash']}").status_code == 204
    assert api.delete("/api/suppressions/+2348012345678").status_code == 404
    sent = create_job(deps, NewJob(type="sms", recipient="+2348012345678", message="hi", metadata={}))
    ended(deps, sent.id, "sent")


def test_a_suppression_by_recipient_is_lifted_by_its_recipient(api):
    api.post("/api/suppressions", json={"recipient": "dee@example.com"})
    assert api.delete("/api/suppressions/dee@example.com").status_code == 204
    assert api.get("/api/suppressions").json() == []


def test_bad_suppressions_are_refused_naming_the_field(api):
    for body, field in (({"recipient": "ada@"}, "recipient"), ({"recipient": "+12"}, "recipient"), ({}, "recipient"),
                        ({"recipient": "a@b.co", "why": 1}, "why")):
        answer = api.post("/api/suppressions", json=body)
        assert answer.status_code == 400 and field in [e["field"] for e in answer.json()["errors"]], answer.text
        assert "ada@" not in answer.json()["detail"]


def test_the_bulk_retry_skips_jobs_failed_because_suppressed(deps, api, worker):
    api.post("/api/suppressions", json={"recipient": "eve@example.com"})
    suppressed = create_job(deps, email("eve@example.com"))
    rejected = create_job(deps, email("reject@example.com"))
    ended(deps, suppressed.id, "failed")
    ended(deps, rejected.id, "failed")
    answer = api.post("/api/notifications/retry", json={"status": "failed"})
    assert answer.json() == {"matched": 1, "retried": 1}


def sent_message_id(deps, job_id):
    return deps.jobs._c.find_one({"_id": object_id(job_id)})["providerMessageId"]


def test_a_signed_sns_delivery_receipt_is_added_once_without_an_api_key(sns, signer, start_worker):
    deps, client = sns
    start_worker(deps)
    job = create_job(deps, email("fay@example.com"))
    ended(deps, job.id, "sent")
    message = signer.sign(notification(ses_delivery(sent_message_id(deps, job.id), "fay@example.com")))
    answer = post(client, message)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"jobId": job.id, "event": "delivered", "added": True, "suppressed": False}
    assert post(client, message).json()["added"] is False  # SNS delivers at least once
    assert events(deps, job.id).count("delivered") == 1
    assert signer.fetched == [CERT_URL]  # fetched once, then cached


def test_sns_version_2_signatures_verify(sns, signer):
    _, client = sns
    answer = post(client, signer.sign(notification(ses_delivery("no-such-message", "x@example.com")), version="2"))
    assert answer.status_code == 200 and answer.json()["jobId"] is None


def test_untrusted_sns_posts_are_refused_naming_the_field(sns, signer):
    _, client = sns
    good = signer.sign(notification(ses_delivery("m-1", "x@example.com")))
    tampered = {**good, "Message": good["Message"].replace("Delivery", "Bounce")}
    other_topic = signer.sign(notification(ses_delivery("m-1", "x@example.com"), topic=TOPIC + "-other"))
    foreign_cert = signer.sign({**notification(ses_delivery("m-1", "x@example.com")),
                                "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem"})
    for message, field in ((tampered, "Signature"), (other_topic, "TopicArn"), (foreign_cert, "SigningCertURL")):
        answer = post(client, message)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [field]
        assert "x@example.com" not in answer.text
    assert post(client, {"Type": "Notification"}).status_code == 400
    assert client.post("/api/receipts/sns", content=b"not json").status_code == 400


def test_a_subscription_confirmation_is_confirmed(sns, signer, monkeypatch):
    _, client = sns
    confirmed = []
    monkeypatch.setattr(route, "confirm", lambda message: confirmed.append(message["SubscribeURL"]))
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=abc"
    message = signer.sign({"Type": "SubscriptionConfirmation", "MessageId": "m-2", "TopicArn": TOPIC, "Token": "abc",
                           "Message": "You have chosen to subscribe", "SubscribeURL": url,
                           "Timestamp": notification("")["Timestamp"]})
    answer = post(client, message)
    assert answer.status_code == 200 and answer.json()["confirmed"] is True
    assert confirmed == [url]
