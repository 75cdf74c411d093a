"""The HTTP contract: shapes, status codes and problem bodies."""

import dataclasses
import re

import httpx
import pytest

from local.wsgi import make_app
from shared.counters import COUNTERS, CounterStore
from shared.mongo import connect
from shared.store import JOBS, JobStore
from tests.conftest import all_jobs, wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOB_FIELDS = {
    "id", "type", "recipient", "message", "metadata", "status", "attempts", "maxAttempts",
    "lastError", "createdAt", "updatedAt",
}


def create(api, **overrides):
    body = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}
    body.update(overrides)
    return api.post("/api/notifications", json=body)


def problem_fields(response):
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == response.status_code
    return {e["field"] for e in body.get("errors", [])}


def test_create_answers_201_with_the_job_summary(api):
    r = create(api, metadata={"ref": "INV-1"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "status", "attempts", "maxAttempts", "createdAt"}
    assert re.fullmatch(r"[0-9a-f]{24}", body["id"]) and ISO.match(body["createdAt"])
    assert (body["status"], body["attempts"], body["maxAttempts"]) == ("queued", 0, 3)
    assert r.headers["location"] == f"/api/notifications/{body['id']}"


def test_get_returns_the_whole_job_in_the_seed_shape(api):
    job_id = create(api, metadata={"ref": "INV-1"}).json()["id"]
    job = api.get(f"/api/notifications/{job_id}").json()
    assert set(job) == JOB_FIELDS
    assert job["metadata"] == {"ref": "INV-1"} and job["recipient"] == "+2348012345678"
    assert ISO.match(job["createdAt"]) and ISO.match(job["updatedAt"])


def test_a_job_reaches_sent_over_http(api, worker):
    job_id = create(api).json()["id"]
    wait_for(lambda: api.get(f"/api/notifications/{job_id}").json()["status"] == "sent", what="sent")
    logs = api.get(f"/api/notifications/{job_id}/logs").json()
    assert [e["event"] for e in logs][-2:] == ["sending", "sent"]
    assert all(e["jobId"] == job_id and ISO.match(e["createdAt"]) for e in logs)


def test_malformed_json_is_a_400_naming_the_body(api):
    r = api.post("/api/notifications", content=b'{"type": "sms",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and problem_fields(r) == {"body"}


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"type": "fax"}, "type"),
        ({"recipient": "0801-not-e164"}, "recipient"),
        ({"type": "email", "recipient": "not-an-address"}, "recipient"),
        ({"message": "x" * 1601}, "message"),
        ({"metadata": "not an object"}, "metadata"),
        ({"recipient": {"$ne": None}}, "recipient"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, overrides, field):
    r = create(api, **overrides)
    assert r.status_code == 400 and problem_fields(r) == {field}


def test_a_rejected_create_stores_nothing(api, deps):
    create(api, type="fax")
    assert all_jobs(deps) == []


def test_a_body_over_one_megabyte_is_a_413(api):
    r = api.post("/api/notifications", content=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("job_id", ["6b05a123e5c6fe8521f2f075", "not-an-id", "zzzzzzzzzzzzzzzzzzzzzzzz"])
def test_an_unknown_or_malformed_id_is_a_404(api, job_id):
    for path in (f"/api/notifications/{job_id}", f"/api/notifications/{job_id}/logs"):
        r = api.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_the_list_is_newest_first_and_capped_at_100(api, deps):
    ids = [create(api, recipient=f"+23480123{n:05d}").json()["id"] for n in range(105)]
    listed = api.get("/api/notifications").json()
    assert len(listed) == 100
    assert [j["id"] for j in listed] == list(reversed(ids))[:100]
    assert all(set(j) == JOB_FIELDS for j in listed)


def test_health_is_up_without_touching_the_store(api):
    r = api.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_a_store_outage_is_a_503_problem_not_a_500(deps):
    unreachable = connect("mongodb://127.0.0.1:1/", "unreachable", timeout_ms=300)
    down = dataclasses.replace(deps, jobs=JobStore(unreachable[JOBS], CounterStore(unreachable[COUNTERS])))
    transport = httpx.WSGITransport(app=make_app(lambda: down))
    key = deps.keys.create("default").key  # checking the key needs the store too
    with httpx.Client(transport=transport, base_url="http://wavecom.test",
                      headers={"Authorization": f"Bearer {key}"}) as client:
        for response in (client.get("/api/notifications"), create(client)):
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["retry-after"]
    unreachable.client.close()


def test_a_body_that_is_not_declared_json_is_a_415(api):
    r = api.post("/api/notifications", content=b"type=sms", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"


def test_concurrent_single_creates_share_bulk_writes_and_each_gets_its_own_job(deps, worker):
    import threading

    from shared.intake import group_creates

    group_creates(deps)
    key = deps.keys.create("default").key
    transport = httpx.WSGITransport(app=make_app(lambda: deps))
    answers, barrier = [], threading.Barrier(20)

    def post(n):
        with httpx.Client(transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}) as c:
            barrier.wait()
            answers.append((n, c.post("/api/notifications", json={"type": "sms", "message": f"code {n}",
                                                                  "recipient": f"+23480123{n + 1:04d}1"})))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert {r.status_code for _, r in answers} == {201} and len({r.json()["id"] for _, r in answers}) == 20
    for n, r in answers:  # each answer is the caller's own job
        assert deps.jobs.get(r.json()["id"]).recipient == f"+23480123{n + 1:04d}1"
    wait_for(lambda: all(deps.jobs.get(r.json()["id"]).status.value == "sent" for _, r in answers),
             timeout=30, what="all sent")
