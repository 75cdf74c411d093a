"""`wavecom bench`: its command-line options."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from shared.config import Settings

DEFAULT_JOBS = 10_000
DASHBOARD_JOBS = 100_000  # jobs a dashboard run puts in the store before it polls
MAX_BATCH = 1000  # the batch endpoint's limit per request
N = TypeVar("N", int, float)


def _positive(kind: Callable[[str], N]) -> Callable[[str], N]:
    """A parser of positive numbers of `kind`."""

    def parse(raw: str) -> N:
        value = kind(raw)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {raw}")
        return value

    return parse


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Benchmark the running stack."""
    from local.bench import dashboard
    from local.bench.drain import drain
    from local.bench.priority import priority
    from local.bench.run import Options, bench
    from local.bench.target import TargetError
    from shared.errors import WavecomError

    if args.mode == "batch" and args.batch_size > MAX_BATCH:
        print(f"wavecom bench: --batch-size is at most {MAX_BATCH}", file=sys.stderr)
        return 2
    if args.webhook_ms is not None and args.mode != "drain":
        print("wavecom bench: --webhook-ms is a drain mode option", file=sys.stderr)
        return 2
    if args.mode in ("drain", "priority") and args.duration:
        print(f"wavecom bench: a {args.mode} run queues a number of jobs first: use --jobs, not --duration",
              file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("bench-reports") / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    if args.mode == "dashboard" and (args.duration or (args.jobs or DASHBOARD_JOBS) < 200):
        print("wavecom bench: a dashboard run stores a number of jobs first: --jobs 200 or more", file=sys.stderr)
        return 2
    opts = Options(
        url=url, key=args.key, mode=args.mode,
        batch_size=args.batch_size, concurrency=args.concurrency,
        jobs=None if args.duration else (args.jobs or DEFAULT_JOBS), duration_s=args.duration,
        timeout_s=args.timeout, ceiling_jobs=args.ceiling_jobs, mock_latency_ms=args.mock_latency_ms,
        mock_failure_rate=args.mock_failure_rate, new_tenant=args.new_tenant, out=out,
        progress=not args.no_progress, high_jobs=args.high_jobs, high_interval_ms=args.high_interval_ms,
        webhook_ms=args.webhook_ms,
    )
    try:
        if args.mode == "dashboard":
            return dashboard.run(url, settings, args.jobs or DASHBOARD_JOBS, args.requests, args.pace_ms, out)
        return {"drain": drain, "priority": priority}.get(args.mode, bench)(opts, settings)
    except (TargetError, WavecomError) as e:
        print(f"wavecom bench: {e}", file=sys.stderr)
        return 2


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `bench` to the `wavecom` command."""
    p = sub.add_parser(
        "bench",
        help="measure the running stack: speed, CPU and store work per job, against the broker's and "
        "store's ceilings",
        description="Creates jobs through the API of a running stack (`make run`) and waits, on the maintained "
        "counters, until every one is finished; or (--mode drain) queues jobs with no consumer and lets one "
        "worker of its own drain them; or (--mode priority) does that with low jobs while it creates high jobs one "
        "by one, and reports each high job's create-to-sent time. Reports jobs/s, the CPU ms per job of each process it can see (API, "
        "workers, store, broker, itself) and the store commands and documents per job, measures the broker's "
        "and the store's raw ceilings on this machine, and writes a JSON report and a PNG chart. Reads "
        "MONGODB_URI, MONGODB_DB, RABBITMQ_URL, WAVECOM_QUEUE, WAVECOM_HOST and WAVECOM_PORT like the services do.",
    )
    p.add_argument("--url", default="", help="the API (loopback only; default: http://WAVECOM_HOST:WAVECOM_PORT, "
                   "as the API serves it)")
    p.add_argument("--key", default="", help="API key (default: WAVECOM_BOOTSTRAP_KEY, else "
                   "WAVECOM_DATA_DIR/bootstrap-key)")
    p.add_argument("--new-tenant", action="store_true",
                   help="create a key of a fresh tenant bench-<time> for the run, revoked afterwards; its "
                   "counters then count only this run's jobs (a drain always uses a fresh tenant)")
    p.add_argument("--mongodb-uri", default="", help="the stack's store (default: MONGODB_URI, else the "
                   "embedded store `wavecom up` runs for WAVECOM_DATA_DIR)")
    p.add_argument("--mode", choices=("single", "batch", "drain", "priority", "dashboard"), default="single",
                   help="one job per request, POST /api/notifications/batch, one worker alone on a queued "
                   "backlog, high jobs created one by one while one worker drains a low backlog of --jobs "
                   "(priority), or what each request an open dashboard polls costs the API and the store with "
                   f"--jobs finished jobs stored (dashboard; default --jobs there: {DASHBOARD_JOBS:,}) "
                   "(default: %(default)s)")
    p.add_argument("--high-jobs", type=_positive(int), default=50,
                   help="--mode priority: high jobs created one by one (default: %(default)s)")
    p.add_argument("--high-interval-ms", type=_positive(int), default=200,
                   help="--mode priority: pause between two high creates (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive(int), default=100, help="jobs per batch request (default: %(default)s)")
    p.add_argument("--concurrency", type=_positive(int), default=50, help="concurrent clients (default: %(default)s)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--jobs", type=_positive(int), help=f"jobs to create (default: {DEFAULT_JOBS:,})")
    size.add_argument("--duration", type=_positive(float), help="create jobs for this many seconds instead")
    p.add_argument("--timeout", type=_positive(float), default=600.0,
                   help="stop creating and waiting after this many seconds (default: %(default)s)")
    p.add_argument("--ceiling-jobs", type=_positive(int),
                   help="jobs for each raw ceiling (default: as many as the run accepted)")
    p.add_argument("--mock-latency-ms", type=int, help="the workers' WAVECOM_MOCK_LATENCY_MS, recorded when the "
                   "bench cannot read it from the running workers; in drain mode, the drain worker's (default: 20)")
    p.add_argument("--mock-failure-rate", type=float, help="the workers' WAVECOM_MOCK_FAILURE_RATE, likewise "
                   "(default: 0.1; in drain mode 0)")
    p.add_argument("--webhook-ms", type=int, help="drain mode: the run's tenant has a webhook endpoint for `sent`, a "
                   "receiver of the bench's own that answers each delivery after this many ms (5000: one that hangs "
                   "until the sender's timeout), delivered by a `wavecom webhooks` of the run's own (default: none)")
    p.add_argument("--requests", type=_positive(int), default=40,
                   help="dashboard mode: rounds of every poll, one request of each a round (default: %(default)s)")
    p.add_argument("--pace-ms", type=int, default=1050,
                   help="dashboard mode: time between two requests: the page's one a second, and a little more so "
                   "that each read of the totals misses the API's one-second cache (default: %(default)s)")
    p.add_argument("--out", default="", help="the JSON report; the chart goes beside it as .png "
                   "(default: bench-reports/<time>.json)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_bench)
