"""Jobs flow create -> queue -> dispatch -> outcome on the real broker and store."""

import pytest

from shared.errors import BrokerUnavailable
from shared.intake import create_job
from shared.model import NewJob
from tests.conftest import WAIT_SECONDS, events, provider, wait_for


def make_job(**overrides):
    fields = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456", "metadata": {}}
    fields.update(overrides)
    return NewJob(**fields)


def final(deps, job_id, status, timeout=WAIT_SECONDS):
    """Wait until the job has `status` (its event is written in the same update)."""
    def reached():
        job = deps.jobs.get(job_id)
        return job if job.status.value == status else None

    return wait_for(reached, timeout=timeout, what=f"job {job_id} to be {status}")


def test_a_job_is_sent_once(deps, start_worker):
    job = create_job(deps, make_job())
    assert job.status.value == "queued"
    start_worker(deps)  # after the create, so the timeline has no race in it
    sent = final(deps, job.id, "sent")
    assert sent.attempts == 1 and sent.last_error is None
    assert events(deps, job.id) == ["created", "queued", "sending", "sent"]
    assert provider(deps, "sms").delivered(job.id) == 1


def test_a_transient_failure_is_retried_after_its_delay_then_sent(make_deps, start_worker):
    deps = make_deps(retry_base_ms=1000)  # the ladder's first rung
    job = create_job(deps, make_job(type="email", recipient="alice@example.com", metadata={"mockFailures": 1}))
    start_worker(deps)  # after the create, so the timeline has no race in it
    sent = final(deps, job.id, "sent")
    assert sent.attempts == 2
    assert sent.last_error == "mock email provider unavailable (forced failure 1)"
    timeline = deps.jobs.timeline(job.id)
    assert [e.event.value for e in timeline] == ["created", "queued", "sending", "retry_scheduled", "sending", "sent"]
    scheduled = timeline[3]
    assert scheduled.details["delayMs"] == deps.settings.retry_base_ms * 1
    waited = (timeline[4].created_at - scheduled.created_at).total_seconds() * 1000
    assert waited >= deps.settings.retry_base_ms - 5  # held by the delay queue, not retried at once
    assert provider(deps, "email").delivered(job.id) == 1


def test_the_retry_waits_inside_rabbitmq_in_its_delay_queue(make_deps, start_worker, broker_url):
    import pika

    deps = make_deps(retry_base_ms=5000)  # a rung of the ladder
    start_worker(deps)
    job = create_job(deps, make_job(metadata={"mockFailures": 1}))
    final(deps, job.id, "retrying")
    delay_queue = deps.publisher.topology.delay(5000)
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        held = wait_for(
            lambda: connection.channel().queue_declare(delay_queue, passive=True).method.message_count,
            what="the retry message in its delay queue",
        )
    finally:
        connection.close()
    assert held == 1
    final(deps, job.id, "sent", timeout=20)


def test_a_retry_delay_under_a_second_sends_the_message_straight_back_to_its_lane(deps, start_worker):
    assert deps.settings.retry_base_ms < 1000
    job = create_job(deps, make_job(metadata={"mockFailures": 2}))
    start_worker(deps)
    final(deps, job.id, "sent")
    delays = [e.details["delayMs"] for e in deps.jobs.timeline(job.id) if e.event.value == "retry_scheduled"]
    assert delays == [0, 0]


def test_a_job_that_always_fails_ends_failed_at_max_attempts(make_deps, start_worker):
    deps = make_deps(retry_base_ms=1000)
    job = create_job(deps, make_job(metadata={"mockFailures": 99}))
    start_worker(deps)  # after the create, so the timeline has no race in it
    failed = final(deps, job.id, "failed")
    assert failed.attempts == failed.max_attempts == 3
    assert failed.last_error == "mock sms provider unavailable (forced failure 3)"
    assert events(deps, job.id) == [
        "created", "queued",
        "sending", "retry_scheduled",
        "sending", "retry_scheduled",
        "sending", "failed",
    ]
    delays = [e.details["delayMs"] for e in deps.jobs.timeline(job.id) if e.event.value == "retry_scheduled"]
    assert delays == [deps.settings.retry_base_ms * 1, deps.settings.retry_base_ms * 2]
    assert provider(deps, "sms").delivered(job.id) == 0


def test_a_permanent_failure_fails_at_once_without_retry(deps, start_worker):
    job = create_job(deps, make_job(type="email", recipient="reject@example.com"))
    start_worker(deps)  # after the create, so the timeline has no race in it
    failed = final(deps, job.id, "failed")
    assert failed.attempts == 1
    assert failed.last_error == "mock email provider rejected the recipient"
    assert events(deps, job.id) == ["created", "queued", "sending", "failed"]
    assert deps.jobs.timeline(job.id)[-1].details["permanent"] is True


def test_a_message_that_arrives_before_the_job_is_marked_queued_still_delivers(deps, worker):
    """The worker wins the race: it claims and sends the job before the API marks it queued."""
    publish = deps.publisher.publish_jobs

    def publish_then_wait_for_the_worker(job_ids, **kwargs):
        publish(job_ids, **kwargs)
        for job_id in job_ids:
            final(deps, job_id, "sent")  # the injected step: the API is slower than the worker

    deps.publisher.publish_jobs = publish_then_wait_for_the_worker
    job = create_job(deps, make_job())
    assert job.status.value == "queued"  # published, as the contract says
    stored = deps.jobs.get(job.id)
    assert stored.status.value == "sent"  # the late mark did not overwrite the outcome
    assert events(deps, job.id) == ["created", "sending", "sent"]
    assert provider(deps, "sms").delivered(job.id) == 1


def test_a_job_is_accepted_as_pending_when_the_broker_is_unreachable(make_deps):
    deps = make_deps(rabbitmq_url="amqp://guest:guest@127.0.0.1:1/%2F")
    job = create_job(deps, make_job())
    assert job.status.value == "pending"
    assert deps.jobs.get(job.id).status.value == "pending"
    assert events(deps, job.id) == ["created"]


def test_the_publisher_reports_an_unreachable_broker_as_its_own_error(make_deps):
    deps = make_deps(rabbitmq_url="amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(BrokerUnavailable):
        deps.publisher.publish_jobs(["6b05a123e5c6fe8521f2f075"])


def test_concurrent_jobs_each_deliver_exactly_once(deps, worker):
    jobs = [create_job(deps, make_job(recipient=f"+23480123456{n:02d}")) for n in range(60)]
    for job in jobs:
        final(deps, job.id, "sent")
    assert all(provider(deps, "sms").delivered(job.id) == 1 for job in jobs)


def test_logs_name_the_job_and_mask_the_recipient(deps, worker, caplog):
    caplog.set_level("INFO")
    job = create_job(deps, make_job(message="OTP 424242"))
    final(deps, job.id, "sent")
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert job.id in text and "+234*******678" in text
    assert "+2348012345678" not in text and "424242" not in text
