"""Outbox, leases, duplicates, manual retry and cancel, graceful stop: on the real broker and store."""

import threading
from datetime import timedelta

from shared import clock, messages, timeline
from shared.delivery import Outcome, deliver
from shared.intake import create_job
from shared.model import NewJob
from shared.outbox import sweep
from shared.states import Event, Status
from shared.store import Outcome as Stored
from tests.conftest import claim, delete_queues, events, provider, queue_depth, wait_for

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"


def make_job(**overrides):
    fields = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456", "metadata": {}}
    fields.update(overrides)
    return NewJob(**fields)


def status(deps, job_id):
    return deps.jobs.get(job_id).status.value


def test_a_job_stored_while_the_broker_was_away_is_published_by_the_sweeper(make_deps, start_worker):
    offline = make_deps(rabbitmq_url=UNREACHABLE)
    job = create_job(offline, make_job())
    assert job.status is Status.PENDING
    online = make_deps(outbox_grace_ms=0)
    wait_for(lambda: sweep(online).published == 1, what="the sweeper to publish the job")
    start_worker(online)
    wait_for(lambda: status(online, job.id) == "sent", what="the swept job to be sent")
    assert events(online, job.id) == ["created", "queued", "sending", "sent"]


def test_the_sweeper_leaves_fresh_pending_jobs_to_the_api(make_deps):
    offline = make_deps(rabbitmq_url=UNREACHABLE)
    job = create_job(offline, make_job())
    online = make_deps(outbox_grace_ms=60_000)
    assert sweep(online).published == 0
    assert status(online, job.id) == "pending"


def test_racing_sweepers_publish_each_job_exactly_once(make_deps, broker_url):
    offline = make_deps(rabbitmq_url=UNREACHABLE)
    jobs = [create_job(offline, make_job()) for _ in range(40)]
    sweepers = [make_deps(outbox_grace_ms=0) for _ in range(3)]
    # The sweepers' compare-and-set is the store's date comparison, to the second on the
    # embedded store (test_store_gaps): wait until the store itself sees all 40 as stale.
    def all_stale_to_the_store():
        return len(list(offline.jobs._c.find({"status": "pending", "updatedAt": {"$lt": clock.now()}}))) == 40

    wait_for(all_stale_to_the_store, what="all jobs to be stale")
    results = []
    threads = [threading.Thread(target=lambda d=d: results.append(sweep(d).published)) for d in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(results) == 40
    assert queue_depth(broker_url, sweepers[0].publisher.topology.queue) == 40
    assert all(status(sweepers[0], j.id) == "queued" for j in jobs)


def test_a_redelivered_message_never_sends_twice(deps, worker):
    job = create_job(deps, make_job())
    wait_for(lambda: status(deps, job.id) == "sent", what="the job to be sent")
    for _ in range(20):
        deps.publisher.publish_jobs([job.id])
    skipped = lambda: deps.jobs.timeline(job.id)[-1]
    wait_for(lambda: skipped().details.get("count") == 20, what="all duplicates to be skipped")
    assert events(deps, job.id) == ["created", "queued", "sending", "sent", "duplicate_skipped"]
    assert skipped().details["reason"] == "finished"
    assert provider(deps, "sms").delivered(job.id) == 1


def test_a_message_for_a_job_under_a_live_lease_is_skipped(make_deps):
    holder, other = make_deps(), make_deps()
    job = create_job(holder, make_job())
    assert claim(holder, job.id, holder.instance, lease_ms=60_000) is not None
    assert deliver(other, [job.id]) == {job.id: Outcome.SKIPPED}
    assert events(other, job.id)[-1] == "duplicate_skipped"
    assert provider(other, "sms").delivered(job.id) == 0


def test_an_expired_lease_is_taken_back_and_the_late_worker_cannot_overwrite_the_outcome(make_deps, start_worker):
    lost = make_deps()
    job = create_job(lost, make_job())
    claimed = claim(lost, job.id, lost.instance, lease_ms=1)  # the worker then "dies"
    assert claimed is not None and claimed.attempts == 1
    live = make_deps()
    wait_for(lambda: sweep(live).lease_expired == 1, what="the sweeper to see the expired lease")
    assert events(live, job.id) == ["created", "queued", "sending", "lease_expired", "queued"]
    start_worker(live)
    wait_for(lambda: status(live, job.id) == "sent" and events(live, job.id).count("duplicate_skipped") == 1,
             what="both messages handled")  # the copy skipped may be noted before the other's outcome
    late = Stored(claimed, Status.SENT, timeline.entry(Event.SENT, {"attempt": claimed.attempts}), {})
    assert live.jobs.finish_many([late]) == [False]  # fenced: the lease moved on
    assert live.jobs.get(job.id).attempts == 2
    later = [e for e in events(live, job.id)[5:] if e != "duplicate_skipped"]
    assert later == ["sending", "sent"]  # two messages (original and republished), one delivery
    assert provider(live, "sms").delivered(job.id) == 1


def test_a_lease_that_expires_on_the_last_attempt_fails_the_job(make_deps):
    deps = make_deps(max_attempts=1)
    job = create_job(deps, make_job())
    claim(deps, job.id, "gone-worker", lease_ms=1)
    wait_for(lambda: sweep(deps).lease_expired == 1, what="the sweeper to see the expired lease")
    failed = deps.jobs.get(job.id)
    assert failed.status is Status.FAILED and failed.attempts == failed.max_attempts == 1
    assert failed.last_error == "the worker was lost during the last attempt"


def test_a_failed_job_retried_by_hand_gets_a_fresh_budget(deps, worker, api):
    job = create_job(deps, make_job(metadata={"mockFailures": 3}))
    wait_for(lambda: status(deps, job.id) == "failed", what="the job to fail")
    r = api.post(f"/api/notifications/{job.id}/retry")
    assert r.status_code == 202 and r.json()["maxAttempts"] == 6
    wait_for(lambda: status(deps, job.id) == "sent", what="the retried job to be sent")
    sent = deps.jobs.get(job.id)
    assert (sent.attempts, sent.max_attempts) == (4, 6)  # attempts keep counting
    assert "retry_requested" in events(deps, job.id)
    again = api.post(f"/api/notifications/{job.id}/retry")
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


def test_a_cancelled_job_is_never_sent(deps, api, start_worker):
    job = create_job(deps, make_job())
    r = api.post(f"/api/notifications/{job.id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    start_worker(deps)
    wait_for(lambda: "duplicate_skipped" in events(deps, job.id), what="the queued message to be skipped")
    assert status(deps, job.id) == "cancelled"
    assert provider(deps, "sms").delivered(job.id) == 0
    assert events(deps, job.id) == ["created", "queued", "cancelled", "duplicate_skipped"]
    assert api.post(f"/api/notifications/{job.id}/cancel").status_code == 409


def test_retry_and_cancel_of_an_unknown_job_are_404(api):
    for action in ("retry", "cancel"):
        assert api.post(f"/api/notifications/6b05a123e5c6fe8521f2f075/{action}").status_code == 404


def test_a_message_whose_handling_keeps_failing_is_noted_in_the_job_log(deps, worker, broker_url, monkeypatch):
    job = create_job(deps, make_job())
    wait_for(lambda: status(deps, job.id) == "sent", what="sent")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(messages, "deliver", broken)
    deps.publisher.publish_jobs([job.id])
    wait_for(lambda: "dead_lettered" in events(deps, job.id), timeout=30, what="the dead_lettered event")
    entry = deps.jobs.timeline(job.id)[-1]
    assert entry.details["reason"].startswith("handler error (RuntimeError)")


def test_a_stopped_worker_finishes_what_it_holds_and_acks_it(make_deps, start_worker, broker_url):
    deps = make_deps(mock_latency_ms=400)
    jobs = [create_job(deps, make_job()) for _ in range(8)]
    consumer = start_worker(deps)
    wait_for(lambda: all(status(deps, j.id) == "sending" for j in jobs), what="all jobs in flight")
    consumer.stop()
    wait_for(lambda: all(status(deps, j.id) == "sent" for j in jobs), what="in-flight jobs to finish")
    wait_for(lambda: queue_depth(broker_url, deps.publisher.topology.queue) == 0, what="nothing left to redeliver")
    assert all(provider(deps, "sms").delivered(j.id) == 1 for j in jobs)


def test_stale_finds_only_jobs_older_than_the_cutoff(make_deps):
    deps = make_deps(rabbitmq_url=UNREACHABLE)
    job = create_job(deps, make_job())
    assert deps.jobs.stale(Status.PENDING, clock.now() - timedelta(seconds=30), 10) == []
    assert deps.jobs.stale(Status.PENDING, clock.now() + timedelta(seconds=1), 10) == [(job.id, "default", "normal")]


def test_a_queued_job_whose_message_was_lost_is_published_again(make_deps, start_worker, broker_url):
    deps = make_deps(requeue_after_ms=1000)
    job = create_job(deps, make_job())
    delete_queues(broker_url, [deps.publisher.topology.queue])  # the message is gone
    deps.publisher.close()
    wait_for(lambda: sweep(deps).republished == 1, what="the sweeper to republish the job")
    start_worker(deps)
    wait_for(lambda: status(deps, job.id) == "sent", what="the job to be sent")
    assert events(deps, job.id) == ["created", "queued", "queued", "sending", "sent"]
    assert deps.jobs.timeline(job.id)[2].details["republished"] is True


def test_a_retrying_job_waiting_its_longest_delay_is_not_taken_for_lost(make_deps):
    deps = make_deps(requeue_after_ms=1000, retry_max_ms=5000)
    job = create_job(deps, make_job())
    claimed = claim(deps, job.id, "worker-a", 30_000)
    retry = timeline.entry(Event.RETRY_SCHEDULED, {"attempt": 1, "error": "timed out", "delayMs": 5000})
    assert deps.jobs.finish_many([Stored(claimed, Status.RETRYING, retry, {"lastError": "timed out"})]) == [True]
    past_requeue = clock.now() + timedelta(milliseconds=1500)
    wait_for(lambda: clock.now() > past_requeue, what="longer than WAVECOM_REQUEUE_AFTER_MS")
    assert sweep(deps).republished == 0  # its message may still be in the 5 s delay queue
    wait_for(lambda: sweep(deps).republished == 1, timeout=15, what="past the longest delay as well: lost")


def test_a_store_outage_does_not_spend_a_messages_delivery_budget(make_deps, start_worker, monkeypatch):
    from shared.errors import StoreUnavailable

    deps = make_deps(delivery_limit=2)
    job = create_job(deps, make_job())
    claim_many, calls = deps.jobs.claim_many, []

    def store_down_for_a_while(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 4:  # more failed tries than the delivery limit allows deliveries
            raise StoreUnavailable("MongoDB is unreachable")
        return claim_many(*args, **kwargs)

    monkeypatch.setattr(deps.jobs, "claim_many", store_down_for_a_while)
    start_worker(deps)
    wait_for(lambda: status(deps, job.id) == "sent", timeout=30, what="the job to be sent after the outage")
    assert "dead_lettered" not in events(deps, job.id)
