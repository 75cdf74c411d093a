"""Faults injected into real processes: nothing accepted is lost, nothing is sent twice except
after an expired lease, which the job's log shows.

WAVECOM_FAULT_JOBS sets how many jobs each test runs (default 300; thousands for a soak run).
Each test appends its figures to test-artifacts/fault-report.jsonl.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pika
import pytest

from local import embedded_store
from shared.broker import REASON_HEADER
from shared.mongo import connect
from tests.conftest import delete_stack_queues, unique, wait_for
from tests.faults.harness import Stack, create_many, tally, wait_terminal
from tests.faults.proxy import Proxy

JOBS = int(os.environ.get("WAVECOM_FAULT_JOBS", "300"))
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    """An isolated stack; its processes are stopped and its queues and database removed after."""
    s = Stack(tmp_path, store_uri, broker_url, unique("fault-jobs"), unique("fault").replace("-", "_"))
    yield s
    s.stop()
    client = connect(store_uri, s.db).client
    client.drop_database(s.db)  # a test that ran its own store keeps it in tmp_path
    client.close()
    delete_stack_queues(broker_url, s.queue)


def report(name: str, started: float, **figures: object) -> None:
    """Keep a test's figures for the record."""
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    line = {"test": name, "drain_seconds": round(time.monotonic() - started, 1), **figures}
    with (out / "fault-report.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")


def accepted_ids(responses):
    assert all(r.status_code in (201, 503) for r in responses), {r.status_code for r in responses}
    return [r.json()["id"] for r in responses if r.status_code == 201]


def assert_nothing_lost_and_no_unexplained_duplicates(t):
    assert t.lost == 0, t.by_status
    assert t.max_attempts_exceeded == 0
    assert set(t.duplicates) <= t.lease_expired, "a job was delivered twice without an expired lease"
    sent = t.by_status.get("sent", 0)
    assert sum(1 for j in t.deliveries) == sent  # every sent job was delivered at least once


def test_a_worker_killed_mid_run_loses_nothing(stack):
    stack.api()
    first = stack.spawn("worker", WAVECOM_MOCK_LATENCY_MS="20")
    started = time.monotonic()
    responses = []
    creating = threading.Thread(target=lambda: responses.extend(create_many(stack, JOBS)))
    creating.start()
    deps = stack.deps()
    wait_for(lambda: deps.jobs.page("default", {}, 1) and len(stack.ledger.read_text().splitlines()) >= JOBS // 4
             if stack.ledger.exists() else False, timeout=60, what="a quarter of the jobs delivered")
    first.send_signal(signal.SIGKILL)
    first.wait()
    stack.spawn("worker", WAVECOM_MOCK_LATENCY_MS="20")
    creating.join(timeout=120)
    ids = accepted_ids(responses)
    assert len(ids) == JOBS
    wait_terminal(deps, ids)
    t = tally(stack, deps, ids)
    assert_nothing_lost_and_no_unexplained_duplicates(t)
    assert t.by_status == {"sent": JOBS}
    report("worker_kill_9", started, jobs=JOBS, faults="1 worker SIGKILL", lost=t.lost,
           duplicate_deliveries=sum(n - 1 for n in t.duplicates.values()), lease_expired=len(t.lease_expired))
    deps.close()


def test_the_broker_cut_off_loses_nothing_and_the_api_keeps_accepting(stack, broker_url):
    params = pika.URLParameters(broker_url)
    proxy = Proxy(params.host, params.port)
    stack.rabbitmq_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
    try:
        stack.api()
        stack.spawn("worker")
        started = time.monotonic()
        before = create_many(stack, JOBS // 3)
        proxy.cut()
        during = create_many(stack, JOBS // 3)
        proxy.restore()
        after = create_many(stack, JOBS - 2 * (JOBS // 3))
        assert all(r.status_code == 201 for r in before + during + after)
        assert any(r.json()["status"] == "pending" for r in during)  # accepted while unreachable
        ids = [r.json()["id"] for r in before + during + after]
        deps = stack.deps()
        wait_terminal(deps, ids)
        t = tally(stack, deps, ids)
        assert_nothing_lost_and_no_unexplained_duplicates(t)
        assert t.by_status == {"sent": JOBS}
        report("broker_cut", started, jobs=JOBS, faults="broker connections cut while creating a third",
               pending_at_accept=sum(r.json()["status"] == "pending" for r in during), lost=t.lost,
               duplicate_deliveries=sum(n - 1 for n in t.duplicates.values()))
        deps.close()
    finally:
        proxy.close()


@pytest.mark.skipif(not os.environ.get("WAVECOM_FAULT_BROKER_RESTART"), reason="opt-in: restarts the machine's RabbitMQ")
def test_a_real_broker_restart_loses_nothing(stack):
    stack.api()
    stack.spawn("worker")
    started = time.monotonic()
    before = create_many(stack, JOBS // 2)
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
    try:
        during = create_many(stack, JOBS // 10)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
    after = create_many(stack, JOBS - JOBS // 2 - JOBS // 10)
    ids = accepted_ids(before + during + after)
    deps = stack.deps()
    wait_terminal(deps, ids, timeout=180)
    t = tally(stack, deps, ids)
    assert_nothing_lost_and_no_unexplained_duplicates(t)
    report("broker_restart", started, jobs=len(ids), faults="rabbitmqctl stop_app/start_app", lost=t.lost,
           duplicate_deliveries=sum(n - 1 for n in t.duplicates.values()))
    deps.close()


def test_the_store_killed_and_restarted_loses_no_accepted_job(stack, tmp_path):
    port = embedded_store.free_port()
    command = embedded_store.store_command(tmp_path / "own-store", port)
    (tmp_path / "own-store" / "store").mkdir(parents=True)
    store = subprocess.Popen(command)
    stack.procs.append(store)
    stack.store_uri = embedded_store.uri(port)
    embedded_store.wait_ready(stack.store_uri)
    stack.api()
    stack.spawn("worker")
    started = time.monotonic()
    before = create_many(stack, JOBS // 2)
    store.send_signal(signal.SIGKILL)
    store.wait()
    during = create_many(stack, 20, concurrency=4)
    assert [r.status_code for r in during] == [503] * 20  # a clear "try again", never a 500
    assert all(r.headers["content-type"] == "application/problem+json" for r in during)
    store = subprocess.Popen(command)
    stack.procs.append(store)
    embedded_store.wait_ready(stack.store_uri)
    after = create_many(stack, JOBS - JOBS // 2)
    ids = accepted_ids(before + after)
    deps = stack.deps()
    wait_terminal(deps, ids)
    t = tally(stack, deps, ids)
    assert_nothing_lost_and_no_unexplained_duplicates(t)
    report("store_kill_restart", started, jobs=len(ids), faults="store SIGKILL, 503s while down, restart",
           answered_503=20, lost=t.lost, duplicate_deliveries=sum(n - 1 for n in t.duplicates.values()))
    deps.close()


def test_a_flaky_provider_ends_every_job_sent_or_failed_without_early_retries(stack):
    stack.extra_env["WAVECOM_MOCK_FAILURE_RATE"] = "0.3"
    stack.api()
    stack.spawn("worker")
    started = time.monotonic()
    ids = accepted_ids(create_many(stack, JOBS))
    deps = stack.deps()
    wait_terminal(deps, ids)
    t = tally(stack, deps, ids)
    assert_nothing_lost_and_no_unexplained_duplicates(t)
    assert set(t.by_status) <= {"sent", "failed"} and t.by_status.get("failed", 0) < JOBS // 10
    retries = 0
    for job_id in ids:
        timeline = deps.jobs.timeline(job_id)
        for scheduled, following in itertools.pairwise(timeline):
            if scheduled.event.value == "retry_scheduled":
                assert following.event.value == "sending"
                waited_ms = (following.created_at - scheduled.created_at).total_seconds() * 1000
                assert waited_ms >= scheduled.details["delayMs"] - 5, (job_id, waited_ms)
                retries += 1
    assert retries > JOBS // 10
    report("flaky_provider_30pct", started, jobs=JOBS, faults="30% transient provider failures", retries=retries,
           by_status=t.by_status, lost=t.lost)
    deps.close()


def test_the_same_message_redelivered_many_times_is_delivered_once(stack):
    stack.spawn("worker")
    stack.spawn("worker")
    deps = stack.deps()
    from shared.intake import create_job
    from shared.model import NewJob

    job = create_job(deps, NewJob("sms", "+2348012345678", "once"))
    for _ in range(50):
        deps.publisher.publish_jobs([job.id])
    # The copy that claimed the job may still be writing its outcome when the other 50 are skipped.
    wait_terminal(deps, [job.id], timeout=60)
    wait_for(lambda: sum(e.details.get("count", 0) for e in deps.jobs.timeline(job.id)
                         if e.event.value == "duplicate_skipped") == 50, timeout=60, what="every copy to be handled")
    t = tally(stack, deps, [job.id])
    assert t.deliveries[job.id] == 1 and t.by_status == {"sent": 1}
    report("redelivered_x51", time.monotonic(), jobs=1, faults="51 copies of one message, 2 workers",
           deliveries=t.deliveries[job.id])
    deps.close()


def test_poison_messages_are_dead_lettered_and_the_worker_keeps_consuming(stack, broker_url):
    stack.api()
    worker = stack.spawn("worker")
    ids = accepted_ids(create_many(stack, 10))  # the API declares the queues on its first publish
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in (b"\x00\xff not json", b'{"jobId": 42}', b'{"jobId": "6b05a123e5c6fe8521f2f075"}'):
            channel.basic_publish("", stack.queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
        ids += accepted_ids(create_many(stack, 10))
        deps = stack.deps()
        wait_terminal(deps, ids)
        reasons = []

        def drained():
            while (message := channel.basic_get(f"{stack.queue}.dead", auto_ack=True))[0] is not None:
                reasons.append(message[1].headers[REASON_HEADER])
            return len(reasons) == 3

        wait_for(drained, what="three dead letters")
        assert sorted(reasons) == ["message body is not JSON", "message has no jobId", "no job has this id"]
        assert worker.poll() is None
        report("poison", time.monotonic(), jobs=20, faults="3 poison messages", dead_lettered=3)
        deps.close()
    finally:
        connection.close()
