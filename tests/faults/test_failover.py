"""A provider outage in real processes: the API and two workers send SMS through `mock,mock2`;
partway through a run of creates, mock goes down (its down file appears). Each worker's breaker
opens mock after its failures in a row, and at least 99 % of the jobs created after the outage
began are sent through mock2; none is lost.

WAVECOM_FAULT_JOBS sets the jobs (default 300). The figures go to test-artifacts/fault-report.jsonl.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from shared.providers.mock import read_ledger
from tests.conftest import delete_stack_queues, unique, wait_for
from tests.faults.harness import Stack, tally, wait_terminal
from tests.faults.test_faults import JOBS, assert_nothing_lost_and_no_unexplained_duplicates, report

pytestmark = pytest.mark.timeout(240)
SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    s = Stack(tmp_path, store_uri, broker_url, unique("failover-jobs"), unique("failover").replace("-", "_"),
              extra_env={"WAVECOM_SMS_PROVIDERS": "mock,mock2", "WAVECOM_MOCK_DOWN_FILE": str(tmp_path / "mock-down"),
                         "WAVECOM_MOCK2_LATENCY_MS": "5", "WAVECOM_MOCK2_FAILURE_RATE": "0"})
    yield s
    s.stop()
    s.deps().jobs.client.drop_database(s.db)
    delete_stack_queues(broker_url, s.queue)


def test_jobs_created_after_a_provider_goes_down_are_sent_through_the_next_one(stack, tmp_path):
    stack.api()
    stack.spawn("worker")
    stack.spawn("worker", WAVECOM_METRICS_PORT="0")
    down = tmp_path / "mock-down"
    responses: list[httpx.Response] = []
    started = time.monotonic()

    def create_all() -> None:
        with httpx.Client(base_url=stack.base, timeout=30, headers={"Authorization": f"Bearer {stack.key}"}) as client, \
                ThreadPoolExecutor(8) as pool:
            for response in pool.map(lambda _: client.post("/api/notifications", json=SMS), range(JOBS)):
                responses.append(response)  # noqa: PERF402 - one at a time: the test watches them come

    creating = threading.Thread(target=create_all)
    creating.start()
    wait_for(lambda: len(responses) >= JOBS // 3, timeout=120, what="a third of the jobs created")
    down.touch()
    outage_began = datetime.now().astimezone()
    creating.join(timeout=180)
    assert len(responses) == JOBS and all(r.status_code == 201 for r in responses)
    ids = [r.json()["id"] for r in responses]
    after = {r.json()["id"] for r in responses if datetime.fromisoformat(r.json()["createdAt"]) > outage_began}
    deps = stack.deps()
    wait_terminal(deps, ids)
    t = tally(stack, deps, ids)
    assert_nothing_lost_and_no_unexplained_duplicates(t)
    assert t.by_status == {"sent": JOBS}
    through = {d.job_id: d.provider for d in read_ledger(stack.ledger)}
    share = sum(through[j] == "mock2" for j in after) / len(after)
    assert len(after) >= JOBS // 3 and share >= 0.99, (len(after), Counter(through[j] for j in after))
    retried = sum(1 for j in after if deps.jobs.get(j).attempts > 1)
    report("provider_down_failover", started, jobs=JOBS, faults="mock down file created after a third of the creates",
           created_after=len(after), sent_through_mock2_after=round(share, 4), retried_after=retried,
           by_provider=dict(Counter(through.values())), lost=t.lost)
    deps.close()
