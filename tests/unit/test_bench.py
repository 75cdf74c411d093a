"""The benchmark's pure parts: reading answers, figures, and where it may point."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest

from local import procs
from local.bench import scrape, target
from local.bench.ceilings import Ceiling
from local.bench.cost import Reading, Role, cost
from local.bench.cost import rows as cost_rows
from local.bench.load import Load, Plan, _accepted
from local.bench.report import (
    compare,
    drain_results,
    per_second,
    percentiles,
    results,
    summary,
    timeline,
)
from local.bench.target import is_loopback, redacted
from local.bench.watch import Finished, finished_of
from local.procs import Process, Stat, parse_stat
from shared.storework import Work


def batch_plan() -> Plan:
    return Plan(url="http://127.0.0.1:4200", key="k", mode="batch", batch_size=3)


def test_a_batch_answer_gives_the_ids_it_accepted_and_counts_the_items_it_refused():
    body = {"accepted": 2, "rejected": 1, "items": [
        {"index": 0, "id": "6b05b08c96977251ccf5cc28", "status": "queued"},
        {"index": 1, "errors": [{"field": "recipient", "message": "must be an E.164 phone number"}]},
        {"index": 2, "id": "6b05b08c96977251ccf5cc29", "status": "queued"},
    ]}
    ids, refused = _accepted(batch_plan(), 207, json.dumps(body).encode())
    assert ids == ["6b05b08c96977251ccf5cc28", "6b05b08c96977251ccf5cc29"] and refused == 1


def test_a_batch_answer_that_is_not_a_batch_result_accepts_nothing():
    assert _accepted(batch_plan(), 413, b'{"type": "urn:wavecom:problem:payload-too-large"}') == ([], 0)


def test_a_single_create_is_accepted_only_with_201():
    plan = Plan(url="http://127.0.0.1:4200", key="k")
    assert _accepted(plan, 201, b'{"id": "6b05b08c96977251ccf5cc28"}') == (["6b05b08c96977251ccf5cc28"], 0)
    assert _accepted(plan, 400, b"{}") == ([], 1)


def test_percentiles_interpolate_between_ranks():
    figures = percentiles([float(v) for v in range(1, 101)])
    assert figures["p50"] == 50.5 and figures["p99"] == 99.0 and figures["max"] == 100.0
    assert percentiles([])["p50"] is None


def test_per_second_counts_whole_seconds_after_the_start_and_drops_the_rest():
    assert per_second([10.0, 10.5, 11.2, 13.9, 9.0, 20.0], 10.0, 4) == [2, 1, 0, 1]


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:4200", True), ("http://localhost:4200", True), ("mongodb://127.0.0.1:27017/", True),
    ("http://[::1]:4200", True), ("http://api.example.com", False), ("amqp://10.0.0.5:5672/%2F", False),
])
def test_only_services_on_this_machine_are_loopback(url, local):
    assert is_loopback(url) is local


def test_credentials_never_reach_the_report():
    assert redacted("amqp://guest:secret@127.0.0.1:5672/%2F") == "amqp://127.0.0.1:5672/%2F"


# -- cost: /proc, /metrics, per-job arithmetic -------------------------------------------------

STAT = ("4242 (python3 -m (x) y) S 17 4242 4242 0 -1 4194560 5000 0 0 0 "
        "1234 567 0 0 20 0 4 0 987654 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0")


def test_a_stat_line_gives_utime_plus_stime_even_when_the_command_name_has_spaces_and_parentheses():
    assert parse_stat(STAT) == Stat(pid=4242, ppid=17, ticks=1234 + 567, started=987654)


def test_this_process_stat_can_be_read_and_grows_with_work():
    first = procs.stat(os.getpid())
    sum(i * i for i in range(300_000))
    later = procs.stat(os.getpid())
    assert first is not None and later is not None and later.started == first.started and later.ticks >= first.ticks


def test_cpu_ms_counts_a_process_started_in_between_from_zero_and_never_confuses_a_reused_pid():
    ms_per_tick = 1000 / procs.TICKS_PER_S
    before = {(10, 1): 100, (11, 1): 50}
    after = {(10, 1): 130, (12, 7): 5, (11, 9): 2}  # 12 is new; pid 11 now names another process
    assert procs.cpu_ms(before, after) == pytest.approx((30 + 5 + 2) * ms_per_tick)


def test_this_process_runtime_is_read_in_nanoseconds_and_grows_with_less_than_a_tick_of_work():
    first = procs.runtime_ns([os.getpid()])
    sum(i * i for i in range(20_000))  # about a millisecond: the ticks of stat would mostly not move
    later = procs.runtime_ns([os.getpid()])
    assert 0 < procs.runtime_ms(first, later) < 1000


def test_runtime_ms_counts_a_new_process_from_zero_and_a_shrunken_total_as_nothing():
    before = {(10, 1): 5_000_000, (11, 1): 9_000_000}
    after = {(10, 1): 7_500_000, (11, 1): 8_000_000, (12, 3): 1_000_000}
    assert procs.runtime_ms(before, after) == pytest.approx(2.5 + 0 + 1.0)


def test_descendants_are_found_below_their_roots_and_nothing_else():
    table = [Process(1, 0, ()), Process(10, 1, ()), Process(11, 10, ()), Process(12, 11, ()), Process(20, 1, ())]
    assert procs.with_descendants([10], table) == [10, 11, 12]


METRICS = """# HELP wavecom_store_commands_total Commands sent to the store, by command.
# TYPE wavecom_store_commands_total counter
wavecom_store_commands_total{command="find"} 3.0
wavecom_store_commands_total{command="update"} 8.0
# HELP wavecom_store_commands_created Commands sent to the store, by command.
# TYPE wavecom_store_commands_created gauge
wavecom_store_commands_created{command="find"} 1.7958348250566087e+09
# HELP wavecom_store_documents_total Documents the store wrote or returned, by collection.
# TYPE wavecom_store_documents_total counter
wavecom_store_documents_total{collection="notificationjobs",op="written"} 400.0
wavecom_store_documents_total{collection="notificationjobs",op="read"} 100.0
wavecom_store_documents_total{collection="counters",op="written"} 2.0
# HELP wavecom_jobs_total Job messages a worker finished handling, by outcome.
# TYPE wavecom_jobs_total counter
wavecom_jobs_total{outcome="sent"} 100.0
"""


def test_store_work_is_read_from_the_metrics_page_and_nothing_else_is_taken_for_it():
    work = scrape.parse(METRICS)
    assert work.commands == {"find": 3, "update": 8}
    assert work.written == {"notificationjobs": 400, "counters": 2} and work.read == {"notificationjobs": 100}


def test_a_page_without_store_counters_has_no_store_work():
    assert scrape.parse("# no metrics here\n") == Work(Counter(), Counter(), Counter())


def test_a_page_that_cannot_be_fetched_is_none():
    assert scrape.fetch("http://127.0.0.1:9/metrics") is None


def work(commands: dict[str, int], written: dict[str, int], read: dict[str, int]) -> Work:
    return Work(Counter(commands), Counter(written), Counter(read))


def reading(at: float, ticks: dict[str, procs.Ticks], works: dict[str, Work | None]) -> Reading:
    return Reading(at, ticks, works)


ROLES = [Role("api", (1, 2), "metrics", ("http://127.0.0.1:1/metrics",)),
         Role("worker", (3,), "metrics", ()), Role("store", (4,)), Role("broker", ()), Role("bench", (5,), "self")]


def measured() -> dict[str, Any]:
    tick_ms = 1000 / procs.TICKS_PER_S
    before = reading(100.0, {"api": {(1, 1): 10, (2, 1): 10}, "worker": {(3, 1): 0}, "store": {(4, 1): 0},
                             "broker": {}, "bench": {(5, 1): 0}},
                     {"api": work({"insert": 1}, {"notificationjobs": 10}, {}), "worker": None,
                      "bench": work({}, {}, {})})
    after = reading(110.0, {"api": {(1, 1): 10 + round(100 / tick_ms), (2, 1): 10 + round(100 / tick_ms)},
                            "worker": {(3, 1): round(500 / tick_ms)}, "store": {(4, 1): round(1000 / tick_ms)},
                            "broker": {}, "bench": {(5, 1): round(20 / tick_ms)}},
                    {"api": work({"insert": 11, "update": 10}, {"notificationjobs": 2010}, {"apikeys": 1}),
                     "worker": None, "bench": work({"find": 40}, {}, {"counters": 40})})
    return cost(ROLES, before, after, jobs=1000)


def test_cpu_per_job_is_each_groups_cpu_over_the_jobs_finished_and_a_group_not_seen_is_none():
    section = measured()
    p = section["processes"]
    assert p["api"] == {"processes": 2, "cpuMs": 200.0, "cpuMsPerJob": 0.2, "storeWork": p["api"]["storeWork"]}
    assert p["worker"]["cpuMsPerJob"] == 0.5 and p["store"]["cpuMsPerJob"] == 1.0 and p["bench"]["cpuMsPerJob"] == 0.02
    assert p["broker"]["cpuMs"] is None and p["broker"]["cpuMsPerJob"] is None
    assert section["cpuMsTotal"] == 1720.0 and section["seconds"] == 10.0
    assert section["coresBusy"] == pytest.approx(1.72 / 10 / (os.cpu_count() or 1), abs=1e-3)


def test_store_work_per_job_is_the_difference_of_the_two_readings_and_unread_metrics_say_so():
    section = measured()
    api = section["processes"]["api"]["storeWork"]
    assert api["commandsPerJob"] == 0.02 and api["writtenPerJob"] == {"notificationjobs": 2.0}
    assert api["readPerJob"] == {"apikeys": 0.001} and api["counts"]["commands"] == {"insert": 10, "update": 10}
    assert section["processes"]["worker"]["storeWork"] is None and "storeWork" not in section["processes"]["store"]
    total = section["storeWork"]
    assert total["unread"] == ["worker"] and total["commandsPerJob"] == 0.06
    assert total["readPerJob"] == {"apikeys": 0.001, "counters": 0.04}


def test_the_summary_rows_say_n_a_for_what_could_not_be_read():
    lines = dict(cost_rows(measured()))
    assert lines["CPU ms per job"].startswith("api 0.20 (2 processes), worker 0.50, store 1.00, broker n/a, bench 0.02")
    assert lines["store per job: worker"] == "n/a"
    assert "(without worker: n/a)" in lines["store per job: all"]


def test_finished_jobs_are_those_in_a_terminal_status_by_the_counters():
    counts = {"pending": 3, "queued": 4, "sending": 5, "retrying": 6, "sent": 10, "failed": 2, "cancelled": 1}
    assert finished_of(counts) == 13
    assert finished_of({}) == 0


def test_a_drain_is_timed_from_the_worker_start_to_the_last_outcome():
    done = {"a": Finished("sent", 1.0, 12.0), "b": Finished("sent", 1.0, 14.0), "c": Finished("failed", 1.0, 13.0)}
    res = drain_results(4, 3.5, 10.0, done, unfinished=1)
    assert res["complete"] is False and res["outcomes"] == {"failed": 1, "sent": 2, "unfinished": 1}
    assert res["drainSeconds"] == 4.0 and res["drainedPerSecond"] == 0.8 and res["deliveredPerSecond"] == 0.5
    assert res["createToSentMs"]["p50"] == 12000.0


def test_the_timeline_of_a_drain_starts_at_the_worker_and_drops_depth_samples_from_before():
    done = {"a": Finished("sent", 1.0, 10.5), "b": Finished("sent", 1.0, 12.2)}
    line = timeline(10.0, [], done, [(9.0, {"q": 5}), (10.5, {"q": 3, "q.retry.1000": 1})], "q", 13.0)
    assert line["deliveredPerSecond"] == [1, 0, 1] and line["acceptedPerSecond"] == [0, 0, 0]
    assert line["queueDepth"] == [{"t": 0.5, "main": 3, "retry": 1, "dead": 0}]


def full_report(mode: str) -> dict[str, Any]:
    """A report as a run writes it, small."""
    done = {"a": Finished("sent", 1.0, 2.0)}
    store = Ceiling("store", 10, 1.0, 10.0, {"chunk": 1000.0, "writtenPerJob": 4.0, "readPerJob": 1.0,
                                              "commandsPerJob": 0.01, "writesPerSecond": 40.0,
                                              "acceptPerSecond": 25.0, "deliverPerSecond": 16.0}, "s")
    broker = Ceiling("broker", 10, 0.5, 20.0, {"publishPerSecond": 30.0, "consumed": 10.0, "transactionSize": 100.0}, "q")
    if mode == "drain":
        res = drain_results(1, 0.2, 1.5, done, 0)
    else:
        load = Load(started=1.0, finished=1.5, ids=["a"], accepted_at=[1.2], latencies_ms=[5.0])
        load.statuses[201] += 1
        res = results(load, done, 0)
    return {
        "config": {"mode": mode, "batchSize": 100, "concurrency": 4},
        "stack": {"mock": {"latencyMs": 20, "failureRate": 0.0, "source": "worker", "workers": 1}, "prefetch": 50,
                  "machine": {"cpus": 2, "loadAverage1mAtStart": 1.5, "loadAverage1mAtEnd": 1.75}},
        "results": res,
        "cost": measured(),
        "ceilings": {"measured": [broker.to_json(), store.to_json()],
                     **compare(res["deliveredPerSecond"], [broker, store], mode == "drain")},
        "timeline": timeline(1.0, [], done, [], "q", 3.0),
        "files": {"json": "r.json", "png": "r.png"},
    }


def test_a_drain_summary_names_the_drain_its_cost_and_the_ceilings():
    text = summary(full_report("drain"))
    assert "drain: 1 worker (prefetch 50) on a backlog of 1 queued jobs" in text
    assert "CPU ms per job" in text and "store per job: all" in text
    assert "4.00 documents written, 1.00 read" in text and "claim + outcome alone 16.0/s" in text
    assert "of the store ceiling (claim + outcome: what a drain asks of it), 16.0/s" in text
    assert "load average (1 min) 1.50 at the start, 1.75 at the end" in text


def test_a_batch_summary_keeps_its_http_figures_beside_the_cost():
    text = summary(full_report("batch"))
    assert "batch creates of 100, 4 clients, 1 jobs accepted" in text and "API latency ms" in text
    assert "end to end / ceiling" in text and "of the store ceiling, 10.0/s (the lower one)" in text


def test_the_machine_line_of_proc_stat_splits_busy_from_idle_time():
    assert procs.parse_machine("cpu  100 5 50 800 40 3 2 1 7 0") == (161, 1001)
    assert procs.machine() is not None


def test_how_busy_the_whole_machine_was_is_said_beside_the_measured_processes_share():
    before = Reading(0.0, {"bench": {}}, {}, machine=(1000, 4000))
    after = Reading(10.0, {"bench": {}}, {}, machine=(1900, 6000))
    section = cost([Role("bench", ())], before, after, jobs=10)
    assert section["machineBusy"] == 0.45
    assert "(all processes: 45%)" in dict(cost_rows(section))["CPU ms per job"]


def test_a_drain_is_compared_with_the_delivering_half_of_the_store_ceiling_and_other_runs_with_all_of_it():
    store = Ceiling("store", 10, 1.0, 100.0, {"acceptPerSecond": 250.0, "deliverPerSecond": 160.0}, "s")
    broker = Ceiling("broker", 10, 1.0, 150.0, {}, "q")
    assert compare(80.0, [broker, store]) == {"lower": "store", "lowerPerSecond": 100.0, "ratio": 0.8}
    assert compare(80.0, [broker, store], drain=True) == {"lower": "broker", "lowerPerSecond": 150.0, "ratio": 0.533}
    assert compare(80.0, []) == {"lower": None, "ratio": None}


@pytest.mark.parametrize(("argv", "role", "found"), [
    (("/x/.venv/bin/python", "-m", "local.cli", "worker"), "worker", True),
    (("/x/.venv/bin/python", "/x/.venv/bin/wavecom", "api"), "api", True),
    (("/x/.venv/bin/python", "-m", "local.cli", "api"), "worker", False),
    (("/usr/bin/python3", "-m", "pytest", "worker"), "worker", False),
])
def test_the_stacks_processes_are_known_by_their_wavecom_command_line(argv, role, found):
    assert target._is_wavecom(argv, role) is found


def test_a_store_is_matched_by_the_port_on_its_command_line():
    assert target._port_of(("python", "-m", "local.store_main", "--data-dir", "/d", "--port", "27999")) == 27999
    assert target._port_of(("mongod",)) is None


def test_a_drain_summary_carries_its_warning():
    report = full_report("drain")
    report["results"]["warning"] = "jobs waited up to 400 s"
    assert "WARNING" in summary(report) and "jobs waited up to 400 s" in summary(report)


def test_a_plan_scans_when_it_reads_the_whole_collection_on_either_store():
    from local.bench.dashboard import scans

    assert scans("{'stage': 'COLLSCAN', 'filter': {}}")
    assert not scans("{'stage': 'FETCH', 'inputStage': {'stage': 'IXSCAN', 'indexName': 'tenant_1_createdAtMs_-1'}}")
    assert scans("SCAN notificationjobs")  # SQLite, under the embedded store
    assert not scans("SEARCH notificationjobs USING INDEX idx_notificationjobs_tenant_createdAtMs (tenant=?)")
