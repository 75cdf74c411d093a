"""The `wavecom` command."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from local import package, site
from local.bench import cli as bench
from local.stack import StoreNotFound, require_store, with_store
from shared import logs
from shared.bootstrap import Deps, build
from shared.config import Settings
from shared.errors import ConfigError, StoreUnavailable

log = logging.getLogger("wavecom.cli")


# A service waits this long for its store at start-up: a deployment may start them in any order.
STORE_WAIT_SECONDS = 60
# Commands that use the store find it as local.stack.with_store says. Services wait for it;
# the others fail at once, saying what to do.
SERVICES = frozenset({"api", "worker", "sweeper", "webhooks"})
NEEDS_STORE = SERVICES | {"keys", "bench", "migrate"}

_waiting_for_store = retry(retry=retry_if_exception_type(StoreUnavailable), stop=stop_after_delay(STORE_WAIT_SECONDS),
                           wait=wait_fixed(1), reraise=True)


def _prepare(step: Callable[[], None]) -> None:
    """Run a start-up step that needs the store, waiting for the store as a service does."""
    try:
        _waiting_for_store(step)()
    except StoreUnavailable:
        raise StoreNotFound(f"the store did not answer within {STORE_WAIT_SECONDS} s: start it, "
                            "or set MONGODB_URI to one that runs") from None


def _prepare_store(deps: Deps) -> None:
    _prepare(deps.ensure_indexes)


def _locate_store(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings a command runs with: pointing at the stack's store when it needs one."""
    if args.command not in NEEDS_STORE:
        return settings
    given = getattr(args, "mongodb_uri", "")  # a command's own --mongodb-uri comes first
    if given:
        settings = settings.with_overrides(mongodb_uri=given, mongodb_uri_set=True)
    return with_store(settings) if args.command in SERVICES else require_store(settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Run the whole stack."""
    from local.up import up

    return up(settings)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the HTTP API."""
    from local.server import serve

    deps = build(settings)
    _prepare(deps.prepare_api)
    deps.close()
    if settings.mongodb_uri_set:  # Granian's workers read their settings from the environment
        os.environ["MONGODB_URI"] = settings.mongodb_uri
    serve(settings)
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Create, revoke or list API keys."""
    deps = build(settings)
    _prepare_store(deps)
    try:
        if args.keys_command == "create":
            try:
                issued = deps.keys.create(args.tenant)
            except ValueError as e:
                print(f"wavecom: {e}", file=sys.stderr)
                return 2
            print(f"tenant {issued.tenant}, key id {issued.key_id}. The key is shown once; keep it:")
            print(issued.key)
        elif args.keys_command == "revoke":
            revoked = deps.keys.revoke(args.key)
            print(f"revoked {revoked} key(s)")
            return 0 if revoked else 1
        else:
            for row in deps.keys.list():
                print(f"{row['keyId']}  {row['tenant']}  {'revoked' if row.get('revoked') else 'active'}")
        return 0
    finally:
        deps.close()


def _serve_worker_metrics(settings: Settings) -> None:
    """Serve this process's metrics on WAVECOM_HOST:WAVECOM_METRICS_PORT (0: not at all)."""
    from prometheus_client import start_http_server

    if not settings.metrics_port:
        return
    url = f"http://{settings.host}:{settings.metrics_port}/metrics"
    try:
        start_http_server(settings.metrics_port, addr=settings.host)
    except OSError as e:
        # Delivery matters more than its metrics: a second worker on a host keeps working.
        log.warning("worker metrics not served", extra={"url": url, "error": str(e)})
        return
    log.info("worker metrics served", extra={"url": url})


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Consume the queue and deliver jobs; sweep the outbox alongside; serve metrics."""
    from local.consumer import Consumer
    from shared.outbox import Sweeper

    deps = build(settings)
    _prepare_store(deps)
    _serve_worker_metrics(settings)
    consumer, sweeper = Consumer(deps), Sweeper(deps)
    _stop_on_signals(consumer.stop, sweeper.stop)
    sweeping = threading.Thread(target=sweeper.run, name="sweeper", daemon=True)
    sweeping.start()
    consumer.run()
    sweeper.stop()
    sweeping.join(timeout=10)
    deps.close()
    return 0


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver webhook events from `<queue>.webhooks`, on a connection and threads of its own;
    serve metrics on WAVECOM_METRICS_PORT (0: none)."""
    from local.hookconsumer import HookConsumer

    deps = build(settings)
    _prepare_store(deps)
    _serve_worker_metrics(settings)
    consumer = HookConsumer(deps)
    _stop_on_signals(consumer.stop)
    consumer.run()
    deps.close()
    return 0


def cmd_sweeper(args: argparse.Namespace, settings: Settings) -> int:
    """Sweep the outbox alone (publish stranded `pending` jobs, take back expired leases)."""
    from shared.outbox import Sweeper

    deps = build(settings)
    _prepare_store(deps)
    sweeper = Sweeper(deps)
    _stop_on_signals(sweeper.stop)
    sweeper.run()
    deps.close()
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)


def _stop_on_signals(*stops: Callable[[], None]) -> None:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        for stop in stops:
            stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def cmd_store(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the embedded store alone, in the foreground."""
    from local import embedded_store

    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    (data_dir / "store").mkdir(parents=True, exist_ok=True)
    port = args.port or embedded_store.free_port()
    print(f"embedded store on {embedded_store.uri(port)} (files in {data_dir / 'store'})", flush=True)
    proc = subprocess.Popen(embedded_store.store_command(data_dir, port))
    try:
        return proc.wait()
    finally:
        # Ctrl-C, or SIGTERM (main's handler): the store stops with its wrapper.
        if proc.poll() is None:
            proc.terminate()
            proc.wait()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the store to the current shape (idempotent)."""
    from shared.migration import migrate

    deps = build(settings)
    _prepare_store(deps)
    try:
        done = migrate(deps)
    finally:
        deps.close()
    print(f"moved {done.entries} timeline entries into {done.jobs} jobs; {done.orphans} entries of no job left in "
          f"place; {done.reshaped} jobs reshaped; counters of {done.tenants} tenants set; "
          f"{done.seconds} per-second throughput documents of the earlier shape deleted; "
          f"{done.lifecycle} jobs given their redaction state")
    return 0


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    """Print the OpenAPI document, or write the Postman collection exported from it."""
    import json

    from functions.openapi import document
    from functions.postman import render

    if args.postman:
        Path(args.postman).write_text(render())
        print(f"wrote {args.postman}")
    else:
        print(json.dumps(document(), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="wavecom", description="WaveCom Notify: notification delivery service.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run store (if MONGODB_URI is unset), worker and API").set_defaults(func=cmd_up)
    sub.add_parser("api", help="serve the HTTP API on WAVECOM_HOST:WAVECOM_PORT").set_defaults(func=cmd_api)
    sub.add_parser("worker", help="consume the queue and deliver notifications").set_defaults(func=cmd_worker)
    sub.add_parser("sweeper", help="publish stranded jobs and take back expired leases").set_defaults(func=cmd_sweeper)
    sub.add_parser("webhooks", help="deliver webhook events to the tenants' endpoints").set_defaults(func=cmd_webhooks)
    store = sub.add_parser("store", help="serve the embedded MongoDB-wire store alone")
    store.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    store.add_argument("--data-dir", default="", help="where its files live (default: WAVECOM_DATA_DIR)")
    store.set_defaults(func=cmd_store)
    keys_parser = sub.add_parser("keys", help="manage API keys")
    keys_parser.set_defaults(func=cmd_keys)
    keys = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="issue a key for a tenant and print it once")
    create.add_argument("--tenant", required=True, help="tenant name (created on first use)")
    revoke = keys.add_parser("revoke", help="revoke a key, given whole or by its key id")
    revoke.add_argument("key", help="the key, or its id as `keys list` shows it")
    keys.add_parser("list", help="list key ids, tenants and states")
    sub.add_parser("migrate", help="bring a store written by an earlier release to the current shape "
                   "(timelines into their jobs, counters); safe to run again").set_defaults(func=cmd_migrate)
    spec = sub.add_parser("openapi", help="print the OpenAPI document or export the Postman collection")
    spec.add_argument("--postman", metavar="FILE", help="write the Postman collection to FILE instead")
    spec.set_defaults(func=cmd_openapi)
    site.add_commands(sub)
    package.add_commands(sub)
    bench.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `wavecom` console script."""
    args = parser().parse_args(argv)
    logs.configure()
    # Until a command installs its own graceful handler, SIGTERM exits at once. As a container's
    # PID 1 the default action would be ignored, and `docker stop` would wait out its grace
    # period while the command still waits for the store.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"wavecom: {e}", file=sys.stderr)
        return 2
    try:
        settings = _locate_store(args, settings)
        result: int = args.func(args, settings)
    except (StoreNotFound, StoreUnavailable) as e:
        print(f"wavecom: {e}", file=sys.stderr)  # one line that says what to do; no trace
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
