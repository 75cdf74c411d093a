"""`wavecom up`: the whole stack in the foreground; Ctrl-C or SIGTERM stops all it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from local import embedded_store, rabbit, site
from shared.config import Settings

STOP_GRACE_SECONDS = 15


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def _banner(settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return (
        f"\nWaveCom Notify is up: {base}\n"
        f"  dashboard: {base}/\n"
        f"  create: curl -s -X POST {base}/api/notifications -H 'Content-Type: application/json' \\\n"
        f"            -d '{{\"type\":\"sms\",\"recipient\":\"+2348012345678\",\"message\":\"Your code is 123456\"}}'\n"
        f"  list:   curl -s {base}/api/notifications\n"
        "Ctrl-C stops everything.\n"
    )


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, proc in reversed(children):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", file=sys.stderr)
            proc.kill()
            proc.wait()


def up(settings: Settings) -> int:
    """Start the store (when MONGODB_URI is unset), a worker and the API; wait; stop them all."""
    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    rabbit.ensure(settings.rabbitmq_url)
    site.ensure_built()
    env = dict(os.environ)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if not settings.mongodb_uri_set:
            proc, uri = embedded_store.start(settings.data_dir)
            children.append(("store", proc))
            env["MONGODB_URI"] = uri
            print(f"embedded store on {uri} (files in {settings.data_dir / 'store'})", flush=True)
        for role in ("worker", "api"):
            children.append((role, subprocess.Popen([sys.executable, "-m", "local.cli", role], env=env)))
        print(_banner(settings), flush=True)
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
