"""One benchmark run over HTTP: load the stack, wait until every job is finished, measure what
each process spent and the ceilings. (`--mode drain` is local/bench/drain.py.)"""

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
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from local.bench import ceilings, chart, cost, report, target
from local.bench.load import Load, Plan, drive
from local.bench.watch import Watcher, read_finished
from shared.bootstrap import build, watched_queues
from shared.config import Settings
from shared.errors import WavecomError

STORE_GIVE_UP_S = 15.0


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line."""

    url: str
    key: str
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
    high_jobs: int = 50  # --mode priority
    high_interval_ms: int = 200
    webhook_ms: int | None = None  # --mode drain: a webhook receiver answering after this long


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


def progress(enabled: bool) -> Progress:
    """The bars a run shows on stderr."""
    return Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not enabled, refresh_per_second=4)


def follow(watcher: Watcher, accepted: Callable[[], int], sending: Callable[[], bool], deadline: float,
           show: Callable[[int, int], None], give_up: Callable[[], None],
           gone: Callable[[], str | None] = lambda: None) -> None:
    """Wait, on the maintained counters, until the jobs finished equal those accepted and none
    are still being sent; or until the deadline, the store has been gone too long, or `gone`
    names another reason nothing more will finish."""
    while True:
        done, wanted = watcher.finished, accepted()
        show(done, wanted)
        if not sending() and (done >= wanted or time.monotonic() >= deadline):
            return
        if watcher.store_down_for() > STORE_GIVE_UP_S:
            why: str | None = f"the store has not answered for {STORE_GIVE_UP_S:.0f} s"
        else:
            why = gone()
        if why:
            # The stack is gone (or part of it is): nothing more will finish; keep what was seen.
            Console(stderr=True).print(f"{why}; stopping the run")
            give_up()
            return
        time.sleep(0.25)


class _Accepted:
    """Jobs the API accepted so far, counted across the client threads."""

    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, ids: list[str]) -> None:
        with self._lock:
            self.n += len(ids)


def _load_and_wait(opts: Options, plan: Plan, watcher: Watcher, deadline: float) -> Load:
    """Send the jobs; wait until all are finished or time is up."""
    result: list[Load] = []
    accepted = _Accepted()
    sender = threading.Thread(target=lambda: result.append(drive(plan, accepted.add)), name="bench-load")
    started = time.monotonic()
    with progress(opts.progress) as bar:
        total = opts.jobs if opts.jobs is not None else opts.duration_s
        creating = bar.add_task("creating", total=total, note="")
        finishing = bar.add_task("finished", total=0, note="")

        def show(done: int, wanted: int) -> None:
            sent = wanted if opts.jobs is not None else min(time.monotonic() - started, total or 0)
            bar.update(creating, completed=sent, note=f"{wanted:,} accepted")
            bar.update(finishing, total=wanted, completed=min(done, wanted), note="")

        sender.start()
        follow(watcher, lambda: accepted.n, sender.is_alive, deadline, show, plan.stop.set)
    sender.join()
    return result[0]


def stack_report(opts: Options, settings: Settings, stack: Settings, mock: target.Mock, tenant: str,
                 load_at_start: float) -> dict[str, Any]:
    """The report's `stack` section: what ran, where, with which settings, on which machine
    (`load_at_start`: the 1-minute load average before the run did anything)."""
    return {
        "url": opts.url, "tenant": tenant, "queue": stack.queue, "db": settings.mongodb_db,
        "store": target.redacted(settings.mongodb_uri), "broker": target.redacted(settings.rabbitmq_url),
        "mock": {"latencyMs": mock.latency_ms, "failureRate": mock.failure_rate, "source": mock.source,
                 "workers": mock.workers},
        "prefetch": stack.prefetch, "maxAttempts": stack.max_attempts, "retryBaseMs": stack.retry_base_ms,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system(),
                    # Other work on the machine shares its cores with the stack: worth knowing.
                    "loadAverage1mAtStart": round(load_at_start, 2)},
    }


def shared_roles(settings: Settings) -> list[cost.Role]:
    """The processes every run can see besides the API and workers: the store (when it runs
    here), the broker (shared with whatever else uses it) and the bench itself."""
    return [cost.Role("store", tuple(target.store_pids(settings.mongodb_uri))),
            cost.Role("broker", tuple(target.broker_pids())), cost.bench_role()]


def _roles(url: str, settings: Settings, workers: list[target.Worker]) -> list[cost.Role]:
    urls = [w.metrics_url for w in workers]
    pages = tuple(dict.fromkeys(u for u in urls if u)) if urls and all(urls) else ()
    return [cost.Role("api", tuple(target.api_pids(urlsplit(url).port or 80)), "metrics", (f"{url}/metrics",)),
            cost.Role("worker", tuple(w.pid for w in workers), "metrics", pages), *shared_roles(settings)]


def _ceilings(settings: Settings, stack: Settings, n: int) -> list[ceilings.Ceiling]:
    """Both raw ceilings with `n` jobs; one that fails is left out, the run's figures are kept."""
    if not n:
        return []
    console = Console(stderr=True)
    console.print(f"measuring the raw ceilings with {n:,} jobs ...")
    measured = []
    runs: tuple[Callable[[], ceilings.Ceiling], ...] = (
        lambda: ceilings.broker_ceiling(settings.rabbitmq_url, stack.queue, n, stack.prefetch),
        lambda: ceilings.store_ceiling(settings.mongodb_uri, settings.mongodb_db, n),
    )
    for run in runs:
        try:
            measured.append(run())
        except WavecomError as e:
            console.print(f"a ceiling could not be measured: {e}")
    return measured


def conclude(full: dict[str, Any], settings: Settings, stack: Settings, ceiling_jobs: int, out: Path) -> int:
    """Measure the ceilings, write the report and its chart, print the summary; the exit code
    (1 when some accepted job did not finish in time). Called when the measured run is over:
    the load average it records as the end is the run's, not the ceilings'."""
    full["stack"]["machine"]["loadAverage1mAtEnd"] = round(os.getloadavg()[0], 2)
    measured = _ceilings(settings, stack, ceiling_jobs)
    drain = full["config"]["mode"] == "drain"
    full["ceilings"] = {"measured": [c.to_json() for c in measured],
                        **report.compare(full["results"]["deliveredPerSecond"], measured, drain)}
    full["files"] = {"json": str(out), "png": str(out.with_suffix(".png"))}
    report.write_json(out, full)
    chart.draw(full, out.with_suffix(".png"))
    print(report.summary(full))
    return 0 if full["results"]["complete"] else 1


def bench(opts: Options, settings: Settings) -> int:
    """Run the benchmark over HTTP and write its report; 0 when every accepted job finished in time."""
    deadline, load_at_start = time.monotonic() + opts.timeout_s, os.getloadavg()[0]
    target.check_loopback(url=opts.url, store=settings.mongodb_uri, broker=settings.rabbitmq_url)
    key = target.api_key(settings, opts.key)
    workers = target.workers(settings.queue)
    stack = workers[0].settings if workers else settings
    mock = target.mock_of([w.settings for w in workers], opts.mock_latency_ms, opts.mock_failure_rate)
    declared = (opts.mock_latency_ms, opts.mock_failure_rate)
    if workers and any(d is not None and d != m for d, m in zip(declared, (mock.latency_ms, mock.failure_rate))):
        Console(stderr=True).print(f"note: the workers run with {mock.latency_ms} ms and {mock.failure_rate} "
                                   "failures; that is what the report records")
    _preflight(opts.url, key)
    deps = build(settings)
    if opts.new_tenant:
        # A tenant of its own: its jobs are only this run's (so its counters count exactly this
        # run's), and its rate limit is fresh.
        key = deps.keys.create(f"bench-{time.strftime('%Y%m%d-%H%M%S')}").key
    tenant = deps.keys.tenant_of(key) or "unknown"
    roles = _roles(opts.url, settings, workers)
    meter = cost.Meter(roles, settings.mongodb_db)
    plan = Plan(opts.url, key, opts.mode, opts.batch_size, opts.concurrency, opts.jobs, opts.duration_s, deadline)
    try:
        watcher = Watcher(settings.mongodb_uri, settings.mongodb_db, tenant, settings.rabbitmq_url,
                          watched_queues(stack))
        before = meter.read()
        watcher.start()
        try:
            load = _load_and_wait(opts, plan, watcher, deadline)
            after = meter.read()
            time.sleep(1.0)  # one more depth sample after the last job, so the chart shows the queue empty
        finally:
            watcher.stop()
    finally:
        if opts.new_tenant:
            deps.keys.revoke(key)  # the run is over: its key is of no further use
        deps.close()
    finished = read_finished(settings.mongodb_uri, settings.mongodb_db, load.ids)
    res = report.results(load, finished, len(load.ids) - len(finished))
    until = max([load.finished, *(f.updated for f in finished.values()), *(t for t, _ in watcher.depths)])
    full: dict[str, Any] = {
        "version": report.REPORT_VERSION,
        "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(load.started)),
        "config": {"mode": opts.mode, "batchSize": opts.batch_size if opts.mode == "batch" else 1,
                   "concurrency": opts.concurrency, "jobs": opts.jobs, "durationSeconds": opts.duration_s,
                   "timeoutSeconds": opts.timeout_s, "newTenant": opts.new_tenant},
        "stack": stack_report(opts, settings, stack, mock, tenant, load_at_start),
        "results": res,
        "cost": cost.cost(roles, before, after, len(finished)),
        "watch": {"storeErrors": watcher.store_errors, "brokerErrors": watcher.broker_errors,
                  "finishedBefore": watcher.baseline},
        "timeline": report.timeline(load.started, load.accepted_at, finished, watcher.depths, stack.queue, until),
    }
    n = len(load.ids) if opts.ceiling_jobs is None else min(len(load.ids), opts.ceiling_jobs)
    return conclude(full, settings, stack, n, opts.out)
