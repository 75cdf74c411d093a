"""The personal-data lifecycle against the real broker and store: redaction, retention with
what is attached, erasure with its final pass, the export, the audit trail. Each proof reads the
store itself, so the data is shown gone, not just hidden by the API."""

import json
from datetime import UTC, datetime, timedelta

from shared import lifecycle, pagebudget
from shared.hashing import recipient_hash
from shared.intake import create_job
from shared.model import NewJob
from shared.store import object_id
from tests.conftest import events, register_webhook, wait_for
from tests.receiver import receiver

RECIPIENT = "+2348012345678"
CODE = "Your code is 771203"


def sms(recipient=RECIPIENT, **overrides):
    return NewJob(**{"type": "sms", "recipient": recipient, "message": CODE, "metadata": {"ref": "C-9"}, **overrides})


def raw(deps, job_id):
    return deps.jobs._c.find_one({"_id": object_id(job_id)})


def sent(deps, job_id):
    return wait_for(lambda: deps.jobs.get(job_id).status.value == "sent", what=f"{job_id} sent")


def age(deps, job_id, **delta):
    """Make a job look last updated `delta` ago (what weeks of waiting would do). The document is
    replaced whole: the embedded store keeps a date `$set` alone as text (test_store_gaps.py)."""
    doc = raw(deps, job_id)
    deps.jobs._c.replace_one({"_id": doc["_id"]}, {**doc, "updatedAt": doc["updatedAt"] - timedelta(**delta)})


def test_a_finished_job_is_redacted_after_the_window_and_the_store_keeps_no_message(deps, worker, api):
    job = create_job(deps, sms())
    fresh = create_job(deps, sms(recipient="+2348012345679"))
    sent(deps, job.id), sent(deps, fresh.id)
    age(deps, job.id, hours=25)
    assert lifecycle.lifecycle_sweep(deps).redacted == 1
    doc = raw(deps, job.id)
    assert doc["message"] is None and doc["metadata"] == {} and doc["recipient"] == "+234*******678"
    assert CODE not in json.dumps(doc, default=str) and RECIPIENT not in json.dumps(doc, default=str)
    shown = api.get(f"/api/notifications/{job.id}").json()
    assert shown["redacted"] is True and shown["message"] is None and shown["status"] == "sent"
    assert events(deps, job.id)[-1] == "redacted" and "sent" in events(deps, job.id)
    assert raw(deps, fresh.id)["message"] == CODE  # not yet due
    assert api.get("/api/stats").json()["counts"]["sent"] == 2  # statistics keep counting it


def test_a_jobs_own_window_of_zero_redacts_it_as_soon_as_it_ends(deps, worker):
    job = create_job(deps, sms(redact_after_seconds=0))
    kept = create_job(deps, sms(redact_after_seconds=3600))
    sent(deps, job.id), sent(deps, kept.id)
    assert lifecycle.lifecycle_sweep(deps).redacted == 1
    assert raw(deps, job.id)["message"] is None and raw(deps, kept.id)["message"] == CODE


def test_a_failed_job_whose_own_window_has_not_passed_can_still_be_retried(deps, worker, api):
    job = create_job(deps, sms(recipient="+2348010000000", redact_after_seconds=3600))  # the mock rejects ...0000
    wait_for(lambda: deps.jobs.get(job.id).status.value == "failed", what="the job to fail")
    assert api.post(f"/api/notifications/{job.id}/retry").status_code == 202


def test_a_cancelled_job_is_redacted_after_its_own_window_counted_from_the_cancel(deps, api):
    job = create_job(deps, sms(send_at=datetime.now(UTC) + timedelta(days=1), redact_after_seconds=0))
    assert lifecycle.lifecycle_sweep(deps).redacted == 0  # not ended yet
    assert api.post(f"/api/notifications/{job.id}/cancel").status_code == 200
    assert lifecycle.lifecycle_sweep(deps).redacted == 1
    assert raw(deps, job.id)["message"] is None and "redactAtMs" not in raw(deps, job.id)


def test_jobs_not_yet_due_hold_back_no_job_that_is(deps, worker):
    """Jobs kept longer by their own window, and older than every other, fill no batch: a batch of
    two still finds the job of window 0 and the one past the setting's window."""
    kept = [create_job(deps, sms(redact_after_seconds=86_400)) for _ in range(3)]
    for job in kept:
        sent(deps, job.id)
        age(deps, job.id, days=3)
    zero, old = create_job(deps, sms(redact_after_seconds=0)), create_job(deps, sms())
    sent(deps, zero.id), sent(deps, old.id)
    age(deps, old.id, hours=25)
    due = deps.jobs.redaction_due(lifecycle.clock.epoch_ms(), 24 * 3_600_000, limit=2)
    assert sorted(str(d["_id"]) for d in due) == sorted([zero.id, old.id])


def test_a_redacted_failed_job_cannot_be_retried_and_the_bulk_retry_skips_it(deps, worker, api):
    job = create_job(deps, sms(recipient="+2348010000000", redact_after_seconds=0))  # the mock rejects ...0000
    wait_for(lambda: deps.jobs.get(job.id).status.value == "failed", what="the job to fail")
    lifecycle.lifecycle_sweep(deps)
    answer = api.post(f"/api/notifications/{job.id}/retry")
    assert answer.status_code == 409 and "redacted" in answer.json()["detail"]
    assert api.post("/api/notifications/retry", json={"status": "failed"}).json() == {"matched": 0, "retried": 0}


def test_past_retention_a_job_and_its_webhook_tries_are_deleted_and_counted_out(deps, api, worker, start_hooks):
    start_hooks(deps)
    with receiver() as hook:
        register_webhook(api, hook.url, ["sent"])
        old, young = create_job(deps, sms()), create_job(deps, sms())
        wait_for(lambda: len(hook.requests) == 2, what="both webhooks")
    wait_for(lambda: len(deps.webhooks.deliveries("default", job_id=old.id)) == 1, what="the try recorded")
    age(deps, old.id, days=31)
    assert lifecycle.lifecycle_sweep(deps).deleted == 1
    assert raw(deps, old.id) is None and raw(deps, young.id) is not None
    assert deps.webhooks.deliveries("default", job_id=old.id) == []
    deps.jobs.counters.flush()
    assert deps.jobs.counters.counts("default")["sent"] == 1


def test_a_tenant_may_keep_its_jobs_for_fewer_days(deps, api_as, worker):
    short = api_as("brief")
    assert short.put("/api/settings", json={"retentionDays": 7}).json()["retentionDays"] == 7
    assert short.put("/api/settings", json={"retentionDays": 90}).status_code == 400  # longer than the deployment's
    job_id = short.post("/api/notifications", json={"type": "sms", "recipient": RECIPIENT, "message": CODE}).json()["id"]
    other = create_job(deps, sms())
    sent(deps, job_id), sent(deps, other.id)
    age(deps, job_id, days=8)
    age(deps, other.id, days=8)
    assert lifecycle.lifecycle_sweep(deps).deleted == 1
    assert raw(deps, job_id) is None and raw(deps, other.id) is not None


def test_an_erasure_redacts_with_the_hash_cancels_scrubs_keeps_suppressions_and_audits(make_deps, api_for,
                                                                                       start_worker):
    deps = make_deps(lease_ms=1000)
    api = api_for(deps)
    sent_job = api.post("/api/notifications", json={"type": "sms", "recipient": RECIPIENT, "message": CODE},
                        headers={"Idempotency-Key": "erase-me-1"}).json()
    start_worker(deps)
    sent(deps, sent_job["id"])
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    waiting = api.post("/api/notifications", json={"type": "sms", "recipient": RECIPIENT, "message": CODE,
                                                   "sendAt": later}).json()
    api.post("/api/suppressions", json={"recipient": RECIPIENT})
    bystander = create_job(deps, sms(recipient="+2348012345670"))
    answer = api.post("/api/erasures", json={"recipient": RECIPIENT})
    assert answer.status_code == 202
    erasure = answer.json()
    hashed = recipient_hash(deps.settings.hash_key, RECIPIENT)
    assert erasure["recipientHash"] == hashed and erasure["status"] == "running" and erasure["jobs"] == 2
    assert erasure["cancelled"] == 1
    for job_id in (sent_job["id"], waiting["id"]):
        doc = raw(deps, job_id)
        assert doc["recipient"] == hashed and doc["message"] is None and doc["redacted"] == 1
        assert RECIPIENT not in json.dumps(doc, default=str) and "+234*******678" not in json.dumps(doc, default=str)
    assert raw(deps, waiting["id"])["status"] == "cancelled"
    db = deps.jobs.client[deps.settings.mongodb_db]
    assert db["idempotencykeys"].count_documents({"jobIds": sent_job["id"]}) == 0
    assert len(api.get("/api/suppressions").json()) == 1  # kept: a hash already
    assert raw(deps, bystander.id)["recipient"] == "+2348012345670"
    audit = api.get("/api/audits").json()[0]
    assert audit["action"] == "erasure" and audit["recipientHash"] == hashed and audit["keyId"].startswith("wck_")
    assert RECIPIENT not in json.dumps(list(db["audits"].find()), default=str)
    # A job written while it ran is caught by the final pass, after the lease time.
    late = create_job(deps, sms())
    wait_for(lambda: deps.jobs.get(late.id).status.value == "failed", what="the late job to end (suppressed)")
    wait_for(lambda: lifecycle.lifecycle_sweep(deps).erasures, what="the final pass")
    assert raw(deps, late.id)["recipient"] == hashed
    done = api.get(f"/api/erasures/{erasure['id']}").json()
    assert done["status"] == "done" and done["jobs"] == 3
    assert "recipient" not in db["erasures"].find_one({"_id": erasure["id"]})


def export_all(api, url="/api/notifications/export"):
    """Every page of an export, following `Link`: the body of each page."""
    pages = []
    while url:
        page = api.get(url)
        assert page.status_code == 200 and page.headers["content-type"] == "application/x-ndjson"
        pages.append(page.text)
        link = page.headers.get("link")
        url = link[1:link.index(">")] if link else None
    return pages


def lines(page):
    return [json.loads(line) for line in page.splitlines()]


def test_the_export_pages_ndjson_with_link_and_audits_each_page(deps, api, worker, monkeypatch):
    jobs = [create_job(deps, sms(recipient=f"+23480123456{i:02d}")) for i in range(5)]
    for job in jobs:
        sent(deps, job.id)
    deps.jobs.redact([raw(deps, jobs[0].id)], {"reason": "test"})
    monkeypatch.setattr(pagebudget, "EXPORT_PAGE", 2)
    monkeypatch.setattr(pagebudget, "CHUNK", 3)  # pages that end inside a chunk and across one
    pages = [lines(p) for p in export_all(api)]
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [j for p in pages for j in p]
    assert [j["id"] for j in seen] == [j.id for j in reversed(jobs)]
    redacted = next(j for j in seen if j["id"] == jobs[0].id)
    assert redacted["redacted"] is True and redacted["message"] is None
    assert [a["action"] for a in api.get("/api/audits").json()] == ["export"] * 3
    until = api.get("/api/notifications/export", params={"until": "2000-01-01T00:00:00Z"})
    assert until.text == ""
    bad = api.get("/api/notifications/export", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "since"


def test_a_page_of_long_emails_stays_within_lambdas_6_mb_response(deps, api):
    """15 e-mails of 100,000 quotes: each line takes 400 KB in Lambda's JSON response, so 1,000
    lines a page would be 6 GB; the pages stop at the byte budget instead."""
    quotes = '"' * 100_000
    jobs = [create_job(deps, NewJob("email", f"user{i}@example.com", quotes)) for i in range(15)]
    pages = export_all(api)
    assert len(pages) > 1 and sum(len(lines(p)) for p in pages) == len(jobs)
    for body in pages:
        assert len(json.dumps({"statusCode": 200, "headers": {}, "body": body})) < 6 * 1024 * 1024


def test_bad_erasures_are_refused_naming_the_field_without_echoing_it(api):
    for body, field in (({}, "recipient"), ({"recipient": ""}, "recipient"), ({"recipient": "x", "y": 1}, "y")):
        answer = api.post("/api/erasures", json=body)
        assert answer.status_code == 400 and field in [e["field"] for e in answer.json()["errors"]]
    assert api.get("/api/erasures/er_6b05a10ad2944b3343f56957").status_code == 404


def test_without_a_hash_key_erasures_and_suppressions_are_refused_as_not_configured(make_deps, api_for):
    api = api_for(make_deps(hash_key=""))
    for path, body in (("/api/erasures", {"recipient": RECIPIENT}), ("/api/suppressions", {"recipient": RECIPIENT})):
        answer = api.post(path, json=body)
        problem = answer.json()
        assert answer.status_code == 503 and problem["type"].endswith("not-configured"), path
        assert "WAVECOM_HASH_KEY" in problem["detail"] and RECIPIENT not in answer.text
