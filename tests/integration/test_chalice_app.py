"""The Chalice app serves the same route table and runs `dispatch` as a Lambda function."""

import base64
import json

import pytest
from chalice.test import Client

from functions.app import app
from functions.routes import ROUTES
from shared import bootstrap
from shared.intake import create_job
from shared.model import NewJob
from tests.conftest import provider

HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def client(deps):
    bootstrap.override(deps)
    HEADERS["Authorization"] = AUTH["Authorization"] = f"Bearer {deps.keys.create('default').key}"
    with Client(app) as c:
        yield c
    bootstrap.override(None)


AUTH: dict[str, str] = {}


def mq_event(queue, *bodies):
    """An Amazon MQ for RabbitMQ event as Lambda receives it."""
    return {
        "eventSource": "aws:rmq",
        "rmqMessagesByQueue": {
            f"{queue}::/": [{"redelivered": False, "data": base64.b64encode(b).decode()} for b in bodies]
        },
    }


def test_every_route_of_the_table_is_registered_once():
    registered = {(path, method) for path, entries in app.routes.items() for method in entries}
    assert registered == {(r.path, r.method) for r in ROUTES}


def test_create_get_list_and_logs_through_chalice(client):
    body = json.dumps({"type": "email", "recipient": "alice@example.com", "message": "Hello"})
    created = client.http.post("/api/notifications", headers=HEADERS, body=body)
    assert created.status_code == 201
    job_id = created.json_body["id"]
    assert client.http.get(f"/api/notifications/{job_id}", headers=AUTH).json_body["recipient"] == "alice@example.com"
    assert [j["id"] for j in client.http.get("/api/notifications", headers=AUTH).json_body] == [job_id]
    timeline = client.http.get(f"/api/notifications/{job_id}/logs", headers=AUTH).json_body
    assert [e["event"] for e in timeline] == ["created", "queued"]
    assert client.http.get("/api/notifications").status_code == 401  # no key, no jobs


def test_chalice_answers_bad_input_with_the_same_problem(client):
    r = client.http.post("/api/notifications", headers=HEADERS, body=json.dumps({"type": "fax"}))
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"
    assert "type" in {e["field"] for e in r.json_body["errors"]}
    assert client.http.get("/api/notifications/not-an-id", headers=AUTH).status_code == 404
    plain = client.http.post("/api/notifications", headers={**AUTH, "Content-Type": "text/plain"}, body="hi")
    assert plain.status_code == 415 and plain.headers["Content-Type"] == "application/problem+json"


def test_dispatch_runs_as_a_lambda_on_an_mq_event(client, deps):
    job = create_job(deps, NewJob("sms", "+2348012345678", "Your code is 123456"))
    event = mq_event(deps.settings.queue, json.dumps({"jobId": job.id}).encode(), b"not json")
    result = client.lambda_.invoke("dispatch", event)
    assert result.payload == {"outcomes": ["sent", "dead_lettered"]}
    assert deps.jobs.get(job.id).status.value == "sent"
    assert provider(deps, "sms").delivered(job.id) == 1
    again = client.lambda_.invoke("dispatch", mq_event(deps.settings.queue, json.dumps({"jobId": job.id}).encode()))
    assert again.payload == {"outcomes": ["skipped"]}  # a redelivered batch does not send twice
    assert provider(deps, "sms").delivered(job.id) == 1
