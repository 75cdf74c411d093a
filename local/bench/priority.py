"""`wavecom bench --mode priority`: one-time codes while a campaign drains.

Like a drain (local/bench/drain.py), on a scratch queue `<WAVECOM_QUEUE>.bench-priority-<id>`
with one worker of the bench's own: `--jobs` jobs are queued in the low lane first, for a fresh
tenant. Once the worker has drained a tenth of them (at most 2,000), `--high-jobs` high jobs are
created one by one, `--high-interval-ms` apart, through the library's single create (what the
API's handler calls), for a tenant of their own, so each group is followed on its own counters.
Every high job's time from its create to its `sent` outcome is read once, at the end, from the
store; the run passes when each is within a second. The low lane's depth when the last high job
was sent shows the campaign was still waiting; the worker then drains the rest, and the cost of
the whole window (CPU per job from /proc, store work from the worker's metrics) is reported.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from local import embedded_store
from local.bench import cost, report, target
from local.bench.drain import delete_queues, news, queue_backlog, run_settings, worker_env
from local.bench.run import Options, follow, progress, shared_roles, stack_report
from local.bench.spawn import SpawnedWorker
from local.bench.watch import Finished, Watcher, read_finished
from shared.bootstrap import build, topology, watched_queues
from shared.broker import QueueProbe
from shared.config import Settings
from shared.errors import BrokerUnavailable
from shared.intake import create_job
from shared.model import Priority

WITHIN_MS = 1000.0  # what each high job must meet
WARM_UP_SHARE, WARM_UP_MAX = 0.1, 2000  # low jobs drained before the first high one


def _latencies(finished: dict[str, Finished]) -> list[float]:
    return [round((f.updated - f.created) * 1000, 1) for f in finished.values() if f.status == "sent"]


def priority(opts: Options, settings: Settings) -> int:
    """Queue a low backlog, let one worker drain it, create high jobs one by one meanwhile, and
    report their create-to-sent times; 0 when every high job was sent within a second."""
    deadline, load_at_start = time.monotonic() + opts.timeout_s, os.getloadavg()[0]
    target.check_loopback(store=settings.mongodb_uri, broker=settings.rabbitmq_url)
    found = target.workers(settings.queue)
    run = run_settings(settings, found[0].settings if found else settings, opts)
    topo = topology(run)
    n, high_n = opts.jobs or 0, opts.high_jobs
    tenant = f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    urgent_tenant = f"{tenant}-high"
    deps = build(run)
    probe = QueueProbe(run.rabbitmq_url)
    high_ids: list[str] = []
    low_waiting: list[int] = []  # the low lane's depth when each high job was created
    try:
        queued_at = time.time()
        ids = queue_backlog(deps, n, tenant, opts.progress, Priority.LOW)
        queue_s = time.time() - queued_at
        watcher = Watcher(run.mongodb_uri, run.mongodb_db, tenant, run.rabbitmq_url, watched_queues(run))
        urgent = Watcher(run.mongodb_uri, run.mongodb_db, urgent_tenant, run.rabbitmq_url, [])
        port = embedded_store.free_port()
        worker = SpawnedWorker(worker_env(run, port))
        try:
            worker.start()
            roles = [cost.Role("worker", (worker.pid,), "metrics", (f"http://127.0.0.1:{port}/metrics",)),
                     *shared_roles(settings)]
            meter = cost.Meter(roles, settings.mongodb_db)
            before = meter.read()
            early = watcher.poll()
            watcher.start()
            warm = min(int(n * WARM_UP_SHARE), WARM_UP_MAX)
            while watcher.poll() < warm and time.monotonic() < deadline and not worker.exited:
                time.sleep(0.1)
            payloads = news(high_n, 0, Priority.HIGH)
            logging.getLogger("wavecom.intake").setLevel(logging.WARNING)  # a line per create: noise here
            with progress(opts.progress) as bar:
                task = bar.add_task("high jobs", total=high_n, note=f"{opts.high_interval_ms} ms apart")
                for new in payloads:
                    high_ids.append(create_job(deps, new, urgent_tenant).id)
                    low_waiting.append(_depth(probe, topo.lane(Priority.LOW)))
                    bar.update(task, completed=len(high_ids))
                    time.sleep(opts.high_interval_ms / 1000)
                while urgent.poll() < high_n and time.monotonic() < deadline and not worker.exited:
                    time.sleep(0.05)
            low_left = _depth(probe, topo.lane(Priority.LOW))
            with progress(opts.progress) as bar:
                task = bar.add_task("low drained", total=n, note="1 worker")
                follow(watcher, lambda: n, lambda: False, deadline,
                       lambda done, _: bar.update(task, completed=min(done, n)), lambda: None,
                       lambda: "the worker exited" if worker.exited else None)
            after = meter.read()
            done = watcher.finished + urgent.finished
        finally:
            worker.stop()
            watcher.stop()
            urgent.stop()
    finally:
        delete_queues(settings.rabbitmq_url, topo.queues())
        deps.close()
    finished = read_finished(settings.mongodb_uri, settings.mongodb_db, ids)
    high = read_finished(settings.mongodb_uri, settings.mongodb_db, high_ids)
    latencies = _latencies(high)
    within = sum(ms <= WITHIN_MS for ms in latencies)
    res: dict[str, Any] = {
        "high": {"jobs": high_n, "sent": len(latencies), "withinMs": WITHIN_MS, "within": within,
                 "createToSentMs": report.percentiles(latencies), "latenciesMs": latencies,
                 "lowWaitingAtEachCreate": low_waiting, "lowWaitingWhenAllHighWereSent": low_left},
        "low": report.drain_results(n, queue_s, before.at, finished, n - len(finished)),
    }
    passed = within == high_n and res["low"]["complete"]
    mock = target.Mock(run.mock_latency_ms, run.mock_failure_rate, "bench", 1)
    full: dict[str, Any] = {
        "version": report.REPORT_VERSION,
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(queued_at)),
        "config": {"mode": "priority", "jobs": n, "highJobs": high_n, "highIntervalMs": opts.high_interval_ms,
                   "timeoutSeconds": opts.timeout_s},
        "stack": stack_report(opts, settings, run, mock, tenant, load_at_start),
        "results": res,
        "passed": passed,
        "cost": cost.cost(roles, before, after, max(done - early, 0)),
    }
    full["stack"]["machine"]["loadAverage1mAtEnd"] = round(os.getloadavg()[0], 2)
    full["files"] = {"json": str(opts.out)}
    report.write_json(opts.out, full)
    print(summary(full))
    return 0 if passed else 1


def _depth(probe: QueueProbe, queue: str) -> int:
    """Messages ready in `queue` (-1 when the broker did not say)."""
    try:
        return probe.depths([queue]).get(queue, 0)
    except BrokerUnavailable:
        return -1


def summary(full: dict[str, Any]) -> str:
    """The table printed at the end of a priority run."""
    high, low, machine = full["results"]["high"], full["results"]["low"], full["stack"]["machine"]
    ms = high["createToSentMs"]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    rows = [
        ("run", (f"priority: {full['config']['highJobs']} high jobs created one by one, "
                 f"{full['config']['highIntervalMs']} ms apart, while 1 worker drains {low['accepted']:,} low jobs")),
        ("high create->sent ms", (f"max {fmt(ms['max'])}   p50 {fmt(ms['p50'])}   p99 {fmt(ms['p99'])}   "
                                  f"mean {fmt(ms['mean'])}")),
        ("high within 1 s", f"{high['within']} of {high['jobs']} ({'PASSED' if full['passed'] else 'FAILED'})"),
        ("low waiting", (f"{min(high['lowWaitingAtEachCreate'], default=0):,} to "
                         f"{max(high['lowWaitingAtEachCreate'], default=0):,} messages in the low lane at each high "
                         f"create; {high['lowWaitingWhenAllHighWereSent']:,} when the last was sent")),
        ("low drained", (f"{low['drainedPerSecond']:,.1f} jobs/s over {low['drainSeconds']:.1f} s; "
                         f"outcomes {', '.join(f'{k} {v:,}' for k, v in low['outcomes'].items())}")),
        *cost.rows(full["cost"]),
        ("machine", (f"{machine['cpus']} cpus, load average (1 min) {machine['loadAverage1mAtStart']:.2f} "
                     f"at the start, {machine['loadAverage1mAtEnd']:.2f} at the end")),
        ("report", full["files"]["json"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
