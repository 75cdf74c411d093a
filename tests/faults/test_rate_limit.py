"""The per-tenant rate limit holds across several API processes (its state is in the store)."""

from __future__ import annotations

import time

import httpx
import pytest

from local.embedded_store import free_port
from shared.mongo import connect
from tests.conftest import delete_queues, unique, wait_for
from tests.faults.harness import Stack

RATE, BURST = 5, 10


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    s = Stack(tmp_path, store_uri, broker_url, unique("limit-jobs"), unique("limit").replace("-", "_"),
              extra_env={"WAVECOM_RATE_LIMIT": str(RATE), "WAVECOM_RATE_BURST": str(BURST)})
    yield s
    s.stop()
    client = connect(store_uri, s.db).client
    client.drop_database(s.db)
    client.close()
    delete_queues(broker_url, [s.queue, f"{s.queue}.dead"])


def test_two_api_processes_share_one_bucket_per_tenant(stack):
    ports = [stack.port, free_port()]
    stack.api()
    stack.spawn("api", WAVECOM_PORT=str(ports[1]))
    auth = {"Authorization": f"Bearer {stack.key}"}
    wait_for(lambda: _up(ports[1]), timeout=30, interval=0.1, what="the second API")
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=auth) for p in ports]
    started = time.monotonic()
    answers = [clients[n % 2].get("/api/notifications") for n in range(60)]
    elapsed = time.monotonic() - started
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    assert len(ok) + len(limited) == 60
    # One shared bucket: the burst plus what refilled meanwhile. Two separate buckets would
    # have let about twice as many through.
    assert BURST <= len(ok) <= BURST + RATE * elapsed + 2, (len(ok), elapsed)
    assert {r.request.url.port for r in limited} == set(ports)  # both processes refuse
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert limited[0].headers["content-type"] == "application/problem+json"
    for c in clients:
        c.close()


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
