"""`wavecom up`: the whole stack in the foreground; Ctrl-C or SIGTERM stops all it started."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from local import embedded_store, rabbit, site
from shared.config import Settings
from shared.tenants import PREFIX

STOP_GRACE_SECONDS = 15


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


def _bootstrap_key(settings: Settings) -> tuple[Settings, Path | None]:
    """WAVECOM_BOOTSTRAP_KEY, or a key made once for this data directory and kept there."""
    if settings.bootstrap_key:
        return settings, None
    path = settings.data_dir / "bootstrap-key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(PREFIX + secrets.token_urlsafe(32) + "\n")
    return settings.with_overrides(bootstrap_key=path.read_text().strip()), path


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
    settings, key_file = _bootstrap_key(settings)
    env = {**os.environ, "WAVECOM_BOOTSTRAP_KEY": settings.bootstrap_key,
           "WAVECOM_METRICS_PORT": str(settings.metrics_port)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if not settings.mongodb_uri_set:
            proc, uri = embedded_store.start(settings.data_dir)
            children.append(("store", proc))
            env["MONGODB_URI"] = uri
            print(f"embedded store on {uri} (files in {settings.data_dir / 'store'})", flush=True)
        for role in ("worker", "api"):
            children.append((role, subprocess.Popen([sys.executable, "-m", "local.cli", role], env=env)))
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
