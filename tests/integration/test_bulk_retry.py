"""Retrying failed jobs by filter, and the key id every manual action records: real store and broker."""

from __future__ import annotations

import pytest

from shared import manual
from shared.delivery import deliver
from shared.intake import create_jobs
from shared.model import NewJob
from shared.tenants import key_id
from tests.conftest import events, wait_for


def failed_jobs(deps, tenant="default", sms=0, email=0):
    """Jobs of `tenant` that failed for good (the mock providers reject these recipients)."""
    news = [NewJob("sms", f"+23480100{n:02d}0000", "Your code is 123456") for n in range(sms)]
    news += [NewJob("email", f"reject{n}@example.com", "Statement ready") for n in range(email)]
    jobs = create_jobs(deps, news, tenant)
    deliver(deps, [j.id for j in jobs])
    assert {deps.jobs.get(j.id).status.value for j in jobs} == {"failed"}
    return jobs


def counts_become(api, **expected):
    """Wait for the maintained counters (written behind, read through a 1 s cache) to show `expected`."""
    def shown():
        counts = api.get("/api/stats").json()["counts"]
        return all(counts[k] == v for k, v in expected.items())
    wait_for(shown, what=f"the counters to show {expected}")


def key_of(client) -> str:
    return key_id(client.headers["authorization"].removeprefix("Bearer "))


def retry_entry(deps, job_id):
    return next(e for e in deps.jobs.timeline(job_id) if e.event.value == "retry_requested")


def test_the_failed_jobs_a_filter_selects_are_queued_again_with_a_fresh_budget(deps, api):
    sms, email = failed_jobs(deps, sms=3), failed_jobs(deps, email=2)
    r = api.post("/api/notifications/retry", json={"status": "failed", "type": "sms"})
    assert r.status_code == 202 and r.json() == {"matched": 3, "retried": 3}
    for job in sms:
        again = deps.jobs.get(job.id)
        assert (again.status.value, again.attempts, again.max_attempts) == ("queued", 1, 6)
        assert retry_entry(deps, job.id).details == {"maxAttempts": 6, "keyId": key_of(api), "bulk": True}
    assert all(deps.jobs.get(j.id).status.value == "failed" for j in email)
    assert all("retry_requested" not in events(deps, j.id) for j in email)
    counts_become(api, failed=2, queued=3)


def test_a_bulk_retry_sees_only_the_callers_tenant(deps, api_as):
    theirs = failed_jobs(deps, tenant="other-bank", sms=2)
    assert api_as("acme").post("/api/notifications/retry", json={"status": "failed"}).json() == {
        "matched": 0, "retried": 0}
    assert all(deps.jobs.get(j.id).status.value == "failed" for j in theirs)


def test_each_call_takes_at_most_its_limit_and_says_how_many_matched(deps, api, monkeypatch):
    monkeypatch.setattr(manual, "MAX_BULK_RETRY", 2)
    failed_jobs(deps, sms=5)
    answers = [api.post("/api/notifications/retry", json={"status": "failed"}).json() for _ in range(4)]
    assert answers == [{"matched": 5, "retried": 2}, {"matched": 3, "retried": 2}, {"matched": 1, "retried": 1},
                       {"matched": 0, "retried": 0}]


def test_recipient_and_since_narrow_the_selection(deps, api):
    jobs = failed_jobs(deps, sms=2)
    target = deps.jobs.get(jobs[1].id)
    r = api.post("/api/notifications/retry", json={"status": "failed", "recipient": target.recipient})
    assert r.json() == {"matched": 1, "retried": 1}
    assert deps.jobs.get(jobs[0].id).status.value == "failed"
    later = api.post("/api/notifications/retry", json={"status": "failed", "since": "2999-01-01T00:00:00Z"})
    assert later.json() == {"matched": 0, "retried": 0}


def test_a_dry_run_counts_and_changes_nothing(deps, api):
    jobs = failed_jobs(deps, email=3)
    r = api.post("/api/notifications/retry", json={"status": "failed", "type": "email", "dryRun": True})
    assert r.status_code == 200 and r.json() == {"matched": 3, "retried": 0}
    assert all(deps.jobs.get(j.id).status.value == "failed" for j in jobs)


def test_a_repeated_idempotency_key_answers_the_first_retry_and_moves_nothing_more(deps, api):
    failed_jobs(deps, sms=2)
    headers = {"Idempotency-Key": "retry-after-outage-1"}
    first = api.post("/api/notifications/retry", json={"status": "failed"}, headers=headers)
    failed_jobs(deps, sms=1)  # fails after the first call: the replay must not pick it up
    again = api.post("/api/notifications/retry", json={"status": "failed"}, headers=headers)
    assert first.json() == again.json() == {"matched": 2, "retried": 2}
    assert again.headers["idempotent-replayed"] == "true"
    counts_become(api, failed=1, queued=2)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({}, "status", "is required"),
    ({"status": "sent"}, "status", 'must be "failed": only failed jobs can be retried'),
    ({"status": "failed", "type": "fax"}, "type", "must be one of: email, sms, push"),
    ({"status": "failed", "since": "yesterday"}, "since", "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z"),
    ({"status": "failed", "recipient": {"$ne": None}}, "recipient", "must be a string"),
    ({"status": "failed", "dryRun": "yes"}, "dryRun", "must be true or false"),
    ({"status": "failed", "tenant": "other-bank"}, "tenant", "is not a known field"),
    ([], "body", "must be a JSON object"),
])
def test_a_bad_filter_is_a_400_naming_the_field(api, body, field, message):
    r = api.post("/api/notifications/retry", json=body)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert {"field": field, "message": message} in r.json()["errors"]


def test_retry_and_cancel_by_hand_record_the_key_that_asked(deps, api):
    failed, = failed_jobs(deps, email=1)
    assert api.post(f"/api/notifications/{failed.id}/retry").status_code == 202
    assert retry_entry(deps, failed.id).details == {"maxAttempts": 6, "keyId": key_of(api)}
    waiting, = create_jobs(deps, [NewJob("sms", "+2348012345678", "Your code is 123456")])
    assert api.post(f"/api/notifications/{waiting.id}/cancel").status_code == 200
    cancelled = [e for e in deps.jobs.timeline(waiting.id) if e.event.value == "cancelled"]
    assert [e.details for e in cancelled] == [{"keyId": key_of(api)}]
