"""`wavecom up`: the whole stack in the foreground; Ctrl-C or SIGTERM stops all it started."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from local import embedded_store, rabbit, site
from local.consumer import Consumer
from shared.config import Settings
from shared.tenants import PREFIX

# Stopped in this order, each given this long after SIGTERM. The API finishes the requests it
# holds while the store still answers them; the worker stops taking messages and finishes and
# acks what it holds (local.consumer drains for at most 10 s), after the webhooks consumer (a
# delivery in flight takes at most its 5 s timeout); the store, which commits every
# write as it is made, goes last. In all at most the worker's drain time plus 5 s, with room for
# the signalling and reaping itself.
STOP_SECONDS = {"api": 2.5, "webhooks": 6.0, "worker": Consumer.DRAIN_SECONDS + 1, "store": 1.0}


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def _banner(settings: Settings, key_file: Path | None) -> str:
    base = f"http://{settings.host}:{settings.port}"
    where = f" (kept in {key_file})" if key_file else ""
    auth = "-H \"Authorization: Bearer $WAVECOM_KEY\""
    worker_metrics = (
        f", http://{settings.host}:{settings.metrics_port}/metrics (worker)" if settings.metrics_port else ""
    )
    return (
        f"\nWaveCom Notify is up: {base}\n"
        f"  dashboard: {base}/  (paste the API key into its key field)\n"
        f"  API key of tenant 'default'{where}:\n"
        f"    export WAVECOM_KEY={settings.bootstrap_key}\n"
        f"  create: curl -s -X POST {base}/api/notifications {auth} -H 'Content-Type: application/json' \\\n"
        f"            -d '{{\"type\":\"sms\",\"recipient\":\"+2348012345678\",\"message\":\"Your code is 123456\"}}'\n"
        f"  list:   curl -s {base}/api/notifications {auth}\n"
        f"  metrics: {base}/metrics (API){worker_metrics}, readiness: {base}/ready\n"
        "Ctrl-C stops everything.\n"
    )


def _kept_secret(path: Path, prefix: str = "") -> str:
    """A secret made once into `path` (readable by its owner only), and read back after."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(prefix + secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _bootstrap_key(settings: Settings) -> tuple[Settings, Path | None]:
    """WAVECOM_BOOTSTRAP_KEY, or a key made once for this data directory and kept there."""
    if settings.bootstrap_key:
        return settings, None
    path = settings.data_dir / "bootstrap-key"
    return settings.with_overrides(bootstrap_key=_kept_secret(path, PREFIX)), path


def _hash_key(settings: Settings) -> Settings:
    """WAVECOM_HASH_KEY, or a key made once for this data directory and kept there (deployments
    set theirs as a secret): suppressions are kept as hashes under it."""
    if settings.hash_key:
        return settings
    return settings.with_overrides(hash_key=_kept_secret(settings.data_dir / "hash-key"))


def _start(name: str, argv: list[str], env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    # A session of its own: the terminal's Ctrl-C reaches only `wavecom up`, which stops the
    # children in order, rather than all of them at once (the store before the worker is done).
    return name, subprocess.Popen(argv, env=env, start_new_session=True)


def _stop(name: str, proc: subprocess.Popen[bytes], hurry: threading.Event) -> None:
    """SIGTERM, wait up to STOP_SECONDS[name] (less once hurried), then SIGKILL its whole group:
    processes it started (Granian's workers) never outlive it."""
    started = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = started + STOP_SECONDS[name]
    while proc.poll() is None and time.monotonic() < deadline and not hurry.is_set():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
    if proc.poll() is None:
        print(f"{name} did not stop in time; killing it", file=sys.stderr, flush=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the leader's group outlives it while members remain
    proc.wait()
    print(f"stopped {name} ({time.monotonic() - started:.1f} s)", flush=True)


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    hurry = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Ctrl-C again: no more waiting, but still everything, in order.
        hurry.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    running = dict(children)
    for name in STOP_SECONDS:
        if name in running:
            _stop(name, running[name], hurry)


def up(settings: Settings) -> int:
    """Start the store (when MONGODB_URI is unset), a worker, the webhooks consumer and the API;
    wait; stop them all."""
    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    rabbit.ensure(settings.rabbitmq_url)
    site.ensure_built()
    settings, key_file = _bootstrap_key(settings)
    settings = _hash_key(settings)
    env = {**os.environ, "WAVECOM_BOOTSTRAP_KEY": settings.bootstrap_key, "WAVECOM_HASH_KEY": settings.hash_key,
           "WAVECOM_METRICS_PORT": str(settings.metrics_port)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if not settings.mongodb_uri_set:
            proc, uri = embedded_store.start(settings.data_dir)  # in a session of its own
            children.append(("store", proc))
            env["MONGODB_URI"] = uri
            print(f"embedded store on {uri} (files in {settings.data_dir / 'store'})", flush=True)
        for role in ("worker", "webhooks", "api"):
            # The metrics port is the worker's; the webhooks consumer serves none here.
            own = {**env, "WAVECOM_METRICS_PORT": "0"} if role == "webhooks" else env
            children.append(_start(role, [sys.executable, "-m", "local.cli", role], own))
        print(_banner(settings, key_file), flush=True)
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping the stack", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except _Stop:
        print("stopping ...", flush=True)
        return 0
    finally:
        _stop_all(children)
