"""`wavecom bench` against real API, worker and store processes: small runs, as smoke tests.

Speed is what the bench reports, not what a test asserts: these check that a run finishes,
writes every figure (its cost per process included) and its chart, and leaves nothing behind.
"""

from __future__ import annotations

import json
import subprocess

import pika
import pytest

from local import embedded_store
from local.bench import target
from shared.mongo import connect
from tests.conftest import delete_stack_queues, unique
from tests.faults.harness import WAVECOM, Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
JOBS = 200
DRAIN_JOBS = 150


def stack_of(tmp_path, store_uri, broker_url) -> Stack:
    return Stack(tmp_path, store_uri, broker_url, unique("bench-jobs"), unique("bench").replace("-", "_"))


def remove(stack: Stack, store_uri: str, broker_url: str) -> None:
    """Stop the stack's processes by PID; drop its database and queues."""
    stack.stop()
    client = connect(store_uri, stack.db).client
    client.drop_database(stack.db)
    client.close()
    delete_stack_queues(broker_url, stack.queue)


@pytest.fixture
def stack(tmp_path, store_uri, broker_url):
    """An API and a worker (metrics on a port of its own) of their own; stopped by PID, their
    queues and database removed after."""
    s = stack_of(tmp_path, store_uri, broker_url)
    s.spawn("worker", WAVECOM_METRICS_PORT=str(embedded_store.free_port()))
    s.api()
    yield s
    remove(s, store_uri, broker_url)


@pytest.fixture
def bare_stack(tmp_path, store_uri, broker_url):
    """A database and queue names of their own, and no process: the drain starts its worker."""
    s = stack_of(tmp_path, store_uri, broker_url)
    yield s
    remove(s, store_uri, broker_url)


def bench(stack: Stack, out, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WAVECOM, "bench", *args, "--timeout", "90", "--out", str(out), "--no-progress"],
                          env=stack.env(), capture_output=True, text=True, timeout=200, check=False)


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
    run = bench(stack, out, "--url", stack.base, "--key", stack.key, "--jobs", str(JOBS), "--concurrency", "8")
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

    # What each process spent: every process of the stack was found and its CPU read.
    cost = report["cost"]
    assert cost["jobs"] == JOBS and report["version"] == 2
    processes = cost["processes"]
    assert processes["api"]["processes"] >= 1 and processes["worker"]["processes"] == 1
    assert all(processes[name]["cpuMsPerJob"] is not None for name in ("api", "worker", "store", "bench"))
    # Store work from each process's /metrics: every job was inserted by the API, claimed and
    # finished by the worker; the bench itself read only the counters while it waited.
    assert processes["api"]["storeWork"]["writtenPerJob"]["notificationjobs"] >= 1.0
    assert processes["worker"]["storeWork"]["writtenPerJob"]["notificationjobs"] >= 2.0
    waiting = processes["bench"]["storeWork"]
    assert waiting["readPerJob"].keys() == {"counters"} and not waiting["writtenPerJob"]
    assert cost["storeWork"]["unread"] == [] and cost["storeWork"]["commandsPerJob"] > 0
    store_ceiling = ceilings["store"]["detail"]
    assert store_ceiling["writtenPerJob"] >= 3.0 and store_ceiling["readPerJob"] >= 1.0
    assert "CPU ms per job" in run.stdout and "store per job: all" in run.stdout

    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "end to end / ceiling" in run.stdout and str(out) in run.stdout
    assert "+2348012345678" not in run.stdout + out.read_text()  # no recipient in the output
    assert stack.key not in run.stdout + run.stderr + out.read_text()
    # The ceilings' scratch queue and database are gone.
    assert not queue_exists(broker_url, ceilings["broker"]["scratch"])
    client = connect(store_uri, "admin").client
    assert ceilings["store"]["scratch"] not in client.list_database_names()
    client.close()


def test_a_small_drain_has_one_worker_of_its_own_empty_a_scratch_queue_and_leaves_nothing_behind(
        bare_stack, tmp_path, store_uri, broker_url):
    out = tmp_path / "reports" / "drain.json"
    run = bench(bare_stack, out, "--mode", "drain", "--jobs", str(DRAIN_JOBS), "--mock-latency-ms", "5",
                "--ceiling-jobs", "100")
    assert run.returncode == 0, run.stderr[-3000:]

    report = json.loads(out.read_text())
    res, stack = report["results"], report["stack"]
    assert res["complete"] and res["accepted"] == DRAIN_JOBS and res["outcomes"] == {"sent": DRAIN_JOBS, "unfinished": 0}
    assert res["drainedPerSecond"] > 0 and sum(report["timeline"]["deliveredPerSecond"]) == DRAIN_JOBS
    assert stack["queue"].startswith(f"{bare_stack.queue}.bench-drain-") and stack["tenant"].startswith("bench-")
    assert stack["mock"] == {"latencyMs": 5, "failureRate": 0.0, "source": "bench", "workers": 1}
    # Measured from the worker's "worker consuming" line on: its CPU, and its store work from
    # the metrics port the bench gave it.
    worker = report["cost"]["processes"]["worker"]
    assert worker["processes"] == 1 and worker["cpuMsPerJob"] is not None
    assert worker["storeWork"]["writtenPerJob"]["notificationjobs"] > 0
    assert set(report["cost"]["processes"]) == {"worker", "store", "broker", "bench"}
    assert "drained / ceiling" in run.stdout and out.with_suffix(".png").exists()

    # The worker is stopped and its scratch queues deleted; the jobs are the fresh tenant's.
    assert target.workers(stack["queue"]) == []
    assert not queue_exists(broker_url, stack["queue"]) and not queue_exists(broker_url, f"{stack['queue']}.dead")
    client = connect(store_uri, bare_stack.db).client
    try:
        jobs = client[bare_stack.db]["notificationjobs"]
        assert jobs.count_documents({"tenant": stack["tenant"], "status": "sent"}) == DRAIN_JOBS
    finally:
        client.close()
    assert "+2348012345678" not in run.stdout + run.stderr + out.read_text()


def test_a_small_priority_run_times_each_high_job_past_a_low_backlog_and_leaves_nothing_behind(
        bare_stack, tmp_path, store_uri, broker_url):
    out = tmp_path / "reports" / "priority.json"
    run = bench(bare_stack, out, "--mode", "priority", "--jobs", "400", "--high-jobs", "3", "--high-interval-ms", "50",
                "--mock-latency-ms", "5")
    assert run.returncode in (0, 1), run.stderr[-3000:]  # 1: some high job took over a second (a figure, not a test)
    report = json.loads(out.read_text())
    high, low, stack = report["results"]["high"], report["results"]["low"], report["stack"]
    assert high["jobs"] == high["sent"] == len(high["latenciesMs"]) == 3 and len(high["lowWaitingAtEachCreate"]) == 3
    assert report["passed"] == (run.returncode == 0) == (high["within"] == 3)
    assert low["complete"] and low["outcomes"] == {"sent": 400, "unfinished": 0}
    assert stack["queue"].startswith(f"{bare_stack.queue}.bench-priority-")
    assert "high create->sent ms" in run.stdout and report["cost"]["processes"]["worker"]["cpuMsPerJob"] is not None
    lanes = [stack["queue"], f"{stack['queue']}.high", f"{stack['queue']}.low", f"{stack['queue']}.dead"]
    assert target.workers(stack["queue"]) == [] and not any(queue_exists(broker_url, q) for q in lanes)
    client = connect(store_uri, bare_stack.db).client
    try:
        jobs = client[bare_stack.db]["notificationjobs"]
        assert jobs.count_documents({"tenant": f"{stack['tenant']}-high", "priority": "high", "status": "sent"}) == 3
    finally:
        client.close()


def test_a_small_dashboard_run_reports_every_poll_and_takes_its_jobs_away(stack, tmp_path, store_uri):
    out = tmp_path / "reports" / "dashboard.json"
    run = bench(stack, out, "--mode", "dashboard", "--url", stack.base, "--jobs", "300", "--requests", "5",
                "--pace-ms", "20")
    assert run.returncode in (0, 1), run.stderr[-3000:]  # 1: a poll cost 5 ms or more (a speed, not asserted)

    report = json.loads(out.read_text())
    polls = report["polls"]
    assert set(polls) == {"newest 50", "status=failed", "type=email", "failed email", "recipient search",
                          "next page (Load more)", "job by id", "timeline", "stats", "newest 100 (the API's most)"}
    for figures in polls.values():
        assert figures["apiCpuMsPerRequest"] >= 0 and figures["requests"] == 5
        assert figures["latencyMs"]["p50"] > 0 and figures["paceMs"] == 20
    assert polls["newest 50"]["documentsReadPerRequest"]["notificationjobs"] == 51  # a page and one more
    assert not polls["newest 100 (the API's most)"]["polledByThePage"]
    assert polls["job by id"]["documentsReadPerRequest"]["notificationjobs"] == 1
    assert "notificationjobs" not in polls["stats"]["documentsReadPerRequest"]  # counters only
    lists = [name for name, figures in polls.items() if "plans" in figures]
    assert len(lists) == 6 and not any(polls[name]["scans"] for name in lists)
    client = connect(store_uri, stack.db).client
    try:
        assert client[stack.db]["notificationjobs"].count_documents({"tenant": report["tenant"]}) == 0
    finally:
        client.close()
    assert "Your code is" not in run.stdout + out.read_text()
