"""`wavecom bench` against real API, worker and store processes: a small run, as a smoke test.

Speed is what the bench reports, not what a test asserts: this only checks that a run finishes,
writes every figure and its chart, and leaves nothing behind.
"""

from __future__ import annotations

import json
import subprocess

import pika
import pytest

from shared.mongo import connect
from tests.conftest import delete_queues, unique
from tests.faults.harness import WAVECOM, Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
JOBS = 200


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    """An API and a worker of their own; stopped by PID, their queues and database removed after."""
    s = Stack(tmp_path, store_uri, broker_url, unique("bench-jobs"), unique("bench").replace("-", "_"))
    s.spawn("worker", WAVECOM_METRICS_PORT="0")
    s.api()
    yield s
    s.stop()
    client = connect(store_uri, s.db).client
    client.drop_database(s.db)
    client.close()
    delete_queues(broker_url, [s.queue, f"{s.queue}.dead", *(f"{s.queue}.retry.{200 * n}" for n in range(1, 4))])


def queue_exists(url: str, name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def test_a_small_bench_run_writes_every_figure_and_a_chart_and_cleans_up(stack, tmp_path, store_uri, broker_url):
    out = tmp_path / "reports" / "run.json"
    run = subprocess.run(
        [WAVECOM, "bench", "--url", stack.base, "--key", stack.key, "--jobs", str(JOBS), "--concurrency", "8",
         "--timeout", "90", "--out", str(out), "--no-progress"],
        env=stack.env(), capture_output=True, text=True, timeout=180, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    report = json.loads(out.read_text())
    res = report["results"]
    assert res["complete"] and res["accepted"] == JOBS and res["outcomes"]["unfinished"] == 0
    assert res["outcomes"]["sent"] == JOBS  # the stack's mock providers never fail
    assert res["acceptedPerSecond"] > 0 and res["deliveredPerSecond"] > 0
    for figures in (res["apiLatencyMs"], res["createToSentMs"]):
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]
    # What the workers run with is read from them, not assumed.
    assert report["stack"]["mock"] == {"latencyMs": 5, "failureRate": 0.0, "source": "worker", "workers": 1}
    line = report["timeline"]
    assert sum(line["acceptedPerSecond"]) == JOBS and sum(line["deliveredPerSecond"]) == JOBS
    assert line["queueDepth"] and {"t", "main", "retry", "dead"} <= set(line["queueDepth"][0])
    ceilings = {c["what"]: c for c in report["ceilings"]["measured"]}
    assert set(ceilings) == {"broker", "store"} and all(c["per_second"] > 0 for c in ceilings.values())
    assert report["ceilings"]["lower"] in ceilings and report["ceilings"]["ratio"] > 0

    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "end to end / ceiling" in run.stdout and str(out) in run.stdout
    assert "+2348012345678" not in run.stdout + out.read_text()  # no recipient in the output
    assert stack.key not in run.stdout + run.stderr + out.read_text()
    # The ceilings' scratch queue and database are gone.
    assert not queue_exists(broker_url, ceilings["broker"]["scratch"])
    client = connect(store_uri, "admin").client
    assert ceilings["store"]["scratch"] not in client.list_database_names()
    client.close()
