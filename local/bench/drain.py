"""`wavecom bench --mode drain`: one worker alone on a queued backlog.

The bench makes a fresh tenant and a scratch queue `<WAVECOM_QUEUE>.bench-drain-<id>` (its
delay and dead-letter queues derive from it) and queues the jobs through the library as the
API does (stored, published in one transaction, marked queued) with no consumer. Then it
starts one `wavecom worker` on that queue, against the same store and broker. The worker's
start-up is not measured: CPU and store work are read once it logs "worker consuming", and
again when the tenant's counters say every job is finished. The worker is stopped by its pid
and the scratch queues are deleted.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from local import embedded_store
from local.bench import cost, report, target
from local.bench.hooksink import HookSink
from local.bench.load import PAYLOADS
from local.bench.run import (
    Options,
    conclude,
    follow,
    progress,
    shared_roles,
    stack_report,
)
from local.bench.spawn import SpawnedWorker
from local.bench.watch import Watcher, read_finished
from shared import broker
from shared.bootstrap import Deps, build, topology, watched_queues
from shared.config import Settings
from shared.errors import BrokerUnavailable
from shared.intake import create_jobs
from shared.model import NewJob, Priority
from shared.states import Status
from shared.webhooksend import new_secret

CHUNK = 1000  # jobs queued per create (the batch endpoint's limit)
DEFAULT_LATENCY_MS = 20
DEFAULT_FAILURE_RATE = 0.0  # a drain measures the happy path: one attempt per job
log = logging.getLogger("wavecom.bench")


def news(n: int, offset: int, priority: Priority = Priority.NORMAL) -> list[NewJob]:
    """`n` synthetic jobs, the channels in turn (the HTTP runs' payloads)."""
    return [NewJob(p["type"], p["recipient"], p["message"], priority=priority)
            for p in (PAYLOADS[(offset + i) % len(PAYLOADS)] for i in range(n))]


def queue_backlog(deps: Deps, n: int, tenant: str, show_progress: bool,
                  priority: Priority = Priority.NORMAL) -> list[str]:
    """Queue `n` jobs of `tenant` in the `priority` lane of `deps`' queue, in creates of 1,000;
    their ids. TargetError when the broker does not take them (they stay `pending` for a
    sweeper)."""
    ids: list[str] = []
    intake = logging.getLogger("wavecom.intake")
    level = intake.level
    intake.setLevel(logging.WARNING)  # a line per create would drown the progress bar
    try:
        with progress(show_progress) as bar:
            task = bar.add_task("queueing", total=n, note="no consumer yet")
            for start in range(0, n, CHUNK):
                jobs = create_jobs(deps, news(min(CHUNK, n - start), start, priority), tenant)
                if any(job.status != Status.QUEUED for job in jobs):
                    raise target.TargetError("the broker did not take the backlog; is RabbitMQ up?")
                ids += [job.id for job in jobs]
                bar.update(task, completed=len(ids))
    finally:
        intake.setLevel(level)
    deps.jobs.counters.flush()  # the tenant's counts are whole before the worker starts
    return ids


def worker_env(run: Settings, metrics_port: int) -> dict[str, str]:
    """The drain worker's environment: the bench's, pointed at the scratch queue, with its own
    metrics port and the run's provider and consumer settings."""
    return {
        **os.environ,
        "MONGODB_URI": run.mongodb_uri, "MONGODB_DB": run.mongodb_db, "RABBITMQ_URL": run.rabbitmq_url,
        "WAVECOM_QUEUE": run.queue, "WAVECOM_HOST": "127.0.0.1", "WAVECOM_METRICS_PORT": str(metrics_port),
        "WAVECOM_PREFETCH": str(run.prefetch), "WAVECOM_MAX_ATTEMPTS": str(run.max_attempts),
        "WAVECOM_RETRY_BASE_MS": str(run.retry_base_ms), "WAVECOM_MOCK_LATENCY_MS": str(run.mock_latency_ms),
        "WAVECOM_MOCK_FAILURE_RATE": str(run.mock_failure_rate),
    }


def delete_queues(url: str, names: list[str]) -> None:
    """Delete the run's scratch queues; a broker that fails this is reported and left be."""
    try:
        broker.delete_queues(url, names)
    except BrokerUnavailable as e:
        log.warning("scratch queues not deleted", extra={"queues": names, "error": str(e)})


def run_settings(settings: Settings, stack: Settings, opts: Options) -> Settings:
    """The settings of a run with a worker of the bench's own: a scratch queue
    (`<WAVECOM_QUEUE>.bench-<mode>-<id>`); the stack's consumer settings (or the defaults); the mock
    provider as asked."""
    return settings.with_overrides(
        queue=f"{settings.queue}.bench-{opts.mode}-{uuid.uuid4().hex[:8]}",
        prefetch=stack.prefetch, max_attempts=stack.max_attempts, retry_base_ms=stack.retry_base_ms,
        requeue_after_ms=stack.requeue_after_ms,
        mock_latency_ms=DEFAULT_LATENCY_MS if opts.mock_latency_ms is None else opts.mock_latency_ms,
        mock_failure_rate=DEFAULT_FAILURE_RATE if opts.mock_failure_rate is None else opts.mock_failure_rate,
    )


def drain(opts: Options, settings: Settings) -> int:
    """Queue `opts.jobs` jobs, let one worker of the bench's own drain them, report; 0 when
    every job finished in time."""
    deadline, load_at_start = time.monotonic() + opts.timeout_s, os.getloadavg()[0]
    target.check_loopback(store=settings.mongodb_uri, broker=settings.rabbitmq_url)
    found = target.workers(settings.queue)
    run = run_settings(settings, found[0].settings if found else settings, opts)
    n = opts.jobs or 0
    tenant = f"bench-{time.strftime('%Y%m%d-%H%M%S')}"  # fresh: its counters count only this run
    deps = build(run)
    try:
        queued_at = time.time()
        ids = queue_backlog(deps, n, tenant, opts.progress)
        queue_s = time.time() - queued_at
        watcher = Watcher(run.mongodb_uri, run.mongodb_db, tenant, run.rabbitmq_url, watched_queues(run))
        port = embedded_store.free_port()
        env = worker_env(run, port)
        worker = SpawnedWorker(env)
        sink = hooks = None
        endpoint = None
        if opts.webhook_ms is not None:
            sink = HookSink(opts.webhook_ms).__enter__()
            endpoint = deps.webhooks.create(tenant, sink.url, ["sent"], new_secret())
            hooks_port = embedded_store.free_port()
            hooks = SpawnedWorker({**env, "WAVECOM_METRICS_PORT": str(hooks_port),
                                   "WAVECOM_WEBHOOK_ALLOW_PRIVATE": "1"}, role="webhooks")
        try:
            if hooks is not None:
                hooks.start()
            worker.start()
            roles = [cost.Role("worker", (worker.pid,), "metrics", (f"http://127.0.0.1:{port}/metrics",)),
                     *([cost.Role("webhooks", (hooks.pid,), "metrics", (f"http://127.0.0.1:{hooks_port}/metrics",))]
                       if hooks is not None else []),
                     *shared_roles(settings)]
            meter = cost.Meter(roles, settings.mongodb_db)
            before = meter.read()
            early = watcher.poll()  # finished before the window opened (counters lag by ≤ 50 ms)
            watcher.start()
            with progress(opts.progress) as bar:
                task = bar.add_task("drained", total=n, note="1 worker")
                follow(watcher, lambda: n, lambda: False, deadline,
                       lambda done, _: bar.update(task, completed=min(done, n)), lambda: None,
                       lambda: "the drain worker exited" if worker.exited else None)
            after = meter.read()
            done = watcher.finished
            received = sink.received if sink is not None else 0
        finally:
            worker.stop()
            watcher.stop()
            if hooks is not None:
                hooks.stop()
            if sink is not None:
                sink.__exit__(None, None, None)
            if endpoint is not None:  # the events still queued for it are dropped, not sent on
                deps.webhooks.delete(tenant, endpoint.id)
                deps.jobs.drop_marks(tenant)
    finally:
        delete_queues(settings.rabbitmq_url, topology(run).queues())
        deps.close()
    finished = read_finished(settings.mongodb_uri, settings.mongodb_db, ids)
    res = report.drain_results(n, queue_s, before.at, finished, n - len(finished))
    waited = res["createToSentMs"]["max"]
    if found and waited is not None and waited > run.requeue_after_ms:
        # The stack's own sweepers publish again, on the stack's queue, a job left `queued` this
        # long: some of the backlog may have been delivered by the stack's workers, not the drain's.
        res["warning"] = (f"jobs waited up to {waited / 1000:,.0f} s, longer than the stack's WAVECOM_REQUEUE_AFTER_MS "
                          f"({run.requeue_after_ms / 1000:,.0f} s): its sweepers may have handed some to its own workers")
    until = max([after.at, *(f.updated for f in finished.values())])
    mock = target.Mock(run.mock_latency_ms, run.mock_failure_rate, "bench", 1)
    full: dict[str, Any] = {
        "version": report.REPORT_VERSION,
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(queued_at)),
        "config": {"mode": "drain", "jobs": n, "queuedPerCreate": CHUNK, "timeoutSeconds": opts.timeout_s},
        "stack": stack_report(opts, settings, run, mock, tenant, load_at_start),
        "results": res,
        **({"webhooks": {"answerMs": opts.webhook_ms, "received": received,
                         "concurrency": run.webhook_concurrency}} if opts.webhook_ms is not None else {}),
        "cost": cost.cost(roles, before, after, max(done - early, 0)),
        "watch": {"storeErrors": watcher.store_errors, "brokerErrors": watcher.broker_errors,
                  "finishedBefore": early},
        "timeline": report.timeline(before.at, [], finished, watcher.depths, run.queue, until),
    }
    return conclude(full, settings, run, n if opts.ceiling_jobs is None else min(n, opts.ceiling_jobs), opts.out)
