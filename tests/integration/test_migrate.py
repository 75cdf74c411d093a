"""`wavecom migrate` on a store an earlier release wrote: timelines in `notificationlogs`, jobs
without `events`, no counters."""

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from shared import timeline
from shared.counters import Tally
from shared.migration import LOGS, migrate
from shared.states import Event, Status
from tests.conftest import events

T0 = datetime(2026, 11, 20, 9, 0, 0, 123000, tzinfo=UTC)


def old_job(db, status, tenant="default", **extra):
    doc = {"tenant": tenant, "type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456",
           "metadata": {}, "status": status, "attempts": 1, "maxAttempts": 3, "attemptBudget": 3, "lastError": None,
           "createdAt": T0, "createdAtMs": int(T0.timestamp() * 1000), "updatedAt": T0, "__v": 0, **extra}
    return db.notificationjobs.insert_one(doc).inserted_id


def old_log(db, job_id, event, seconds, **details):
    db[LOGS].insert_one({"jobId": job_id, "event": event, "details": details, "createdAt": T0 + timedelta(seconds=seconds)})


def test_old_timelines_move_into_their_jobs_once_and_counters_are_made(deps):
    db = deps.jobs.client[deps.settings.mongodb_db]
    sent = old_job(db, "sent", finishedBy="w:1")
    failed = old_job(db, "failed", tenant="acme")
    for n, event in enumerate(["created", "queued", "sending", "sent"]):
        old_log(db, str(sent), event, n, attempt=1)  # our releases wrote the id as a string,
    old_log(db, failed, "created", 0)  # the seed as an ObjectId
    old_log(db, failed, "failed", 1, error="mock sms provider rejected the recipient")
    old_log(db, str(ObjectId()), "created", 0)  # an entry of a job that is gone

    done = migrate(deps)
    assert (done.jobs, done.entries, done.orphans, done.tenants) == (2, 6, 1, 2)
    assert events(deps, str(sent)) == ["created", "queued", "sending", "sent"]
    timeline = deps.jobs.timeline(str(failed))
    assert [e.event.value for e in timeline] == ["created", "failed"]
    assert timeline[1].created_at == T0 + timedelta(seconds=1) and timeline[1].id == f"{failed}-1"
    assert db[LOGS].count_documents({}) == 1  # only the orphan is left
    assert "finishedBy" not in db.notificationjobs.find_one({"_id": sent}) and "__v" not in db.notificationjobs.find_one()
    assert deps.jobs.counters.counts("default")[Status.SENT] == 1 and deps.jobs.counters.counts("acme")["failed"] == 1

    again = migrate(deps)
    assert (again.jobs, again.entries, again.reshaped, again.tenants) == (0, 0, 0, 0)
    assert events(deps, str(sent)) == ["created", "queued", "sending", "sent"]


def test_entries_already_moved_are_not_added_twice(deps):
    db = deps.jobs.client[deps.settings.mongodb_db]
    job = old_job(db, "queued")
    old_log(db, str(job), "created", 0)
    old_log(db, str(job), "queued", 1, queue="notification-jobs")
    migrate(deps)
    old_log(db, str(job), "queued", 1, queue="notification-jobs")  # as if the delete had not happened
    assert migrate(deps).entries == 1
    assert events(deps, str(job)) == ["created", "queued"]


def test_an_entry_is_noted_on_an_old_job_that_has_no_timeline_yet(deps):
    job = old_job(deps.jobs.client[deps.settings.mongodb_db], "sent")
    assert deps.jobs.note(str(job), timeline.entry(Event.DUPLICATE_SKIPPED, {"reason": "finished"}))
    assert events(deps, str(job)) == ["duplicate_skipped"]


def test_per_second_throughput_documents_of_the_earlier_shape_are_deleted(deps):
    counters = deps.jobs.client[deps.settings.mongodb_db]["counters"]
    counters.create_index([("tenant", 1), ("second", 1)])
    counters.insert_many([{"_id": f"rate/acme/{s}", "tenant": "acme", "second": s, "sent": 2} for s in (1764000000, 1764000001)])
    deps.jobs.counters.ensure_indexes()
    tally = Tally()
    tally.move("acme", Status.SENDING, Status.SENT, at_s=1764000002)
    deps.jobs.counters.apply(tally)
    deps.jobs.counters.flush()
    assert migrate(deps).seconds == 2
    assert [d["_id"] for d in counters.find({"_id": {"$regex": "^rate/"}})] == ["rate/acme/m1764000000"]
    assert "tenant_1_second_1" not in counters.index_information()
    assert migrate(deps).seconds == 0  # again: nothing more to do


def test_jobs_from_before_redaction_are_given_their_state_and_the_lifecycle_then_redacts_them(deps):
    db = deps.jobs.client[deps.settings.mongodb_db]
    old = old_job(db, "sent")
    assert deps.jobs.redaction_due(int(T0.timestamp() * 1000) + 86_400_000, 3_600_000, 10) == []  # unseen before
    assert migrate(deps).lifecycle == 1 and migrate(deps).lifecycle == 0
    due = deps.jobs.redaction_due(int(T0.timestamp() * 1000) + 86_400_000, 3_600_000, 10)
    assert [d["_id"] for d in due] == [old]
