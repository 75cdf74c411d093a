"""One benchmark run: load the stack, wait until every job is finished, measure the ceilings."""

from __future__ import annotations

import os
import platform
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from local.bench import ceilings, chart, report, target
from local.bench.load import Load, Plan, drive
from local.bench.watch import Watcher
from shared.bootstrap import build, topology
from shared.config import Settings
from shared.errors import WavecomError
from shared.retry import RetryPolicy

STORE_GIVE_UP_S = 15.0


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line."""

    url: str
    key: str
    mongodb_uri: str
    mode: str
    batch_size: int
    concurrency: int
    jobs: int | None
    duration_s: float | None
    timeout_s: float
    ceiling_jobs: int | None
    mock_latency_ms: int | None
    mock_failure_rate: float | None
    new_tenant: bool
    out: Path
    progress: bool


def _get(url: str, key: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        raise target.TargetError(f"the API at {url} does not answer ({type(e).__name__}); is the stack up?") from e


def _preflight(url: str, key: str) -> None:
    """Fail early, before any load, when the API is down or refuses the key."""
    _get(f"{url}/health")
    status = _get(f"{url}/api/notifications?limit=1", key)
    if status != 200:
        raise target.TargetError(f"the API answered {status} to the key; pass a valid --key")


def _watched_queues(stack: Settings) -> list[str]:
    topo, policy = topology(stack), RetryPolicy(base_ms=stack.retry_base_ms)
    return [topo.queue, *(topo.delay(policy.delay_ms(n)) for n in range(1, stack.max_attempts)), topo.dead]


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not enabled, refresh_per_second=4)


def _load_and_drain(opts: Options, plan: Plan, watcher: Watcher, deadline: float) -> Load:
    """Send the jobs while following them; then wait until all are finished or time is up."""
    result: list[Load] = []
    sender = threading.Thread(target=lambda: result.append(drive(plan, watcher.add)), name="bench-load")
    started = time.monotonic()
    with _progress(opts.progress) as bar:
        total = opts.jobs if opts.jobs is not None else opts.duration_s
        creating = bar.add_task("creating", total=total, note="")
        finishing = bar.add_task("finished", total=0, note="")
        sender.start()
        while sender.is_alive() or (watcher.unfinished and time.monotonic() < deadline):
            accepted = watcher.accepted
            done = accepted if opts.jobs is not None else min(time.monotonic() - started, total or 0)
            bar.update(creating, completed=done, note=f"{accepted:,} accepted")
            bar.update(finishing, total=accepted, completed=accepted - watcher.unfinished, note="")
            if watcher.store_down_for() > STORE_GIVE_UP_S:
                # The stack is gone (or its store is): nothing more will finish; keep what was seen.
                bar.console.print(f"the store has not answered for {STORE_GIVE_UP_S:.0f} s; stopping the run")
                plan.stop.set()
                break
            time.sleep(0.25)
        bar.update(finishing, total=watcher.accepted, completed=watcher.accepted - watcher.unfinished)
    sender.join()
    return result[0]


def _stack_report(opts: Options, settings: Settings, stack: Settings, mock: target.Mock, tenant: str) -> dict[str, Any]:
    return {
        "url": opts.url, "tenant": tenant, "queue": stack.queue, "db": settings.mongodb_db,
        "store": target.redacted(settings.mongodb_uri), "broker": target.redacted(settings.rabbitmq_url),
        "mock": {"latencyMs": mock.latency_ms, "failureRate": mock.failure_rate, "source": mock.source,
                 "workers": mock.workers},
        "prefetch": stack.prefetch, "maxAttempts": stack.max_attempts, "retryBaseMs": stack.retry_base_ms,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system(),
                    # Other work on the machine shares its cores with the stack: worth knowing.
                    "loadAverage1mAtStart": round(os.getloadavg()[0], 2)},
    }


def _ceilings(settings: Settings, stack: Settings, n: int) -> list[ceilings.Ceiling]:
    """Both raw ceilings with `n` jobs; one that fails is left out, the run's figures are kept."""
    if not n:
        return []
    console = Console(stderr=True)
    console.print(f"measuring the raw ceilings with {n:,} jobs ...")
    measured = []
    runs: tuple[Callable[[], ceilings.Ceiling], ...] = (lambda: ceilings.broker_ceiling(settings.rabbitmq_url, stack.queue, n, stack.prefetch),
            lambda: ceilings.store_ceiling(settings.mongodb_uri, settings.mongodb_db, n))
    for run in runs:
        try:
            measured.append(run())
        except WavecomError as e:
            console.print(f"a ceiling could not be measured: {e}")
    return measured


def bench(opts: Options, env_settings: Settings) -> int:
    """Run the benchmark and write its report; 0 when every accepted job finished in time."""
    deadline = time.monotonic() + opts.timeout_s
    settings = target.store_settings(env_settings, opts.mongodb_uri)
    target.check_loopback(url=opts.url, store=settings.mongodb_uri, broker=settings.rabbitmq_url)
    key = target.api_key(settings, opts.key)
    workers = target.worker_settings(settings.queue)
    stack = workers[0] if workers else settings
    mock = target.mock_of(workers, opts.mock_latency_ms, opts.mock_failure_rate)
    declared = (opts.mock_latency_ms, opts.mock_failure_rate)
    if workers and any(d is not None and d != m for d, m in zip(declared, (mock.latency_ms, mock.failure_rate))):
        Console(stderr=True).print(f"note: the workers run with {mock.latency_ms} ms and {mock.failure_rate} "
                                   "failures; that is what the report records")
    _preflight(opts.url, key)
    deps = build(settings)
    if opts.new_tenant:
        # A tenant of its own: its jobs are only this run's, and its rate limit is fresh.
        key = deps.keys.create(f"bench-{time.strftime('%Y%m%d-%H%M%S')}").key
    tenant = deps.keys.tenant_of(key) or "unknown"
    watcher = Watcher(settings.mongodb_uri, settings.mongodb_db, settings.rabbitmq_url, _watched_queues(stack))
    watcher.start()
    plan = Plan(opts.url, key, opts.mode, opts.batch_size, opts.concurrency, opts.jobs, opts.duration_s, deadline)
    try:
        load = _load_and_drain(opts, plan, watcher, deadline)
        time.sleep(1.0)  # one more depth sample after the last job, so the chart shows the queue empty
    finally:
        watcher.stop()
        if opts.new_tenant:
            deps.keys.revoke(key)  # the run is over: its key is of no further use
        deps.close()
    res = report.results(load, watcher.finished, watcher.unfinished)
    n = len(load.ids) if opts.ceiling_jobs is None else min(len(load.ids), opts.ceiling_jobs)
    measured = _ceilings(settings, stack, n)
    until = max([load.finished, *(f.updated for f in watcher.finished.values()), *(t for t, _ in watcher.depths)])
    full: dict[str, Any] = {
        "version": report.REPORT_VERSION,
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(load.started)),
        "config": {"mode": opts.mode, "batchSize": opts.batch_size if opts.mode == "batch" else 1,
                   "concurrency": opts.concurrency, "jobs": opts.jobs, "durationSeconds": opts.duration_s,
                   "timeoutSeconds": opts.timeout_s},
        "stack": _stack_report(opts, settings, stack, mock, tenant),
        "results": res,
        "ceilings": {"measured": [c.to_json() for c in measured],
                     **report.compare(res["deliveredPerSecond"], measured)},
        "watch": {"storeErrors": watcher.store_errors, "brokerErrors": watcher.broker_errors},
        "timeline": report.timeline(load, watcher.finished, watcher.depths, stack.queue, until),
        "files": {"json": str(opts.out), "png": str(opts.out.with_suffix(".png"))},
    }
    report.write_json(opts.out, full)
    chart.draw(full, opts.out.with_suffix(".png"))
    print(report.summary(full))
    return 0 if res["complete"] else 1
