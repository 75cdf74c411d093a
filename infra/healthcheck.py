"""The image's HEALTHCHECK, one for every role: `python /opt/wavecom/healthcheck.py`.

The role is the command the container runs: PID 1 is `wavecom <role>` (exec-form ENTRYPOINT),
so its command line names it. The API is healthy while it answers `GET /health` on
WAVECOM_PORT; a worker while it serves its metrics on WAVECOM_METRICS_PORT; the sweeper, a
worker with its metrics turned off (port 0) and one-shot commands have no port, and are healthy
while they run. Standard library only: the image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROLES = ("api", "worker", "sweeper", "site", "keys", "store", "up", "openapi", "bench")
TIMEOUT_S = 2.0


def role_of(cmdline: bytes) -> str:
    """The `wavecom` command a process runs, from its /proc cmdline ('' when none is named)."""
    for arg in cmdline.split(b"\0")[1:]:
        name = arg.decode(errors="replace")
        if name in ROLES:
            return name
    return ""


def _local(host: str) -> str:
    # A wildcard address is reached on loopback from inside the container.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def probe_url(role: str, env: Mapping[str, str]) -> str | None:
    """The URL that shows `role` is healthy, or None when it has nothing to probe."""
    host = _local(env.get("WAVECOM_HOST", ""))
    if role == "api":
        return f"http://{host}:{env.get('WAVECOM_PORT') or '4200'}/health"
    if role == "worker":
        port = env.get("WAVECOM_METRICS_PORT") or "9464"
        return None if port == "0" else f"http://{host}:{port}/metrics"
    return None


def main(proc: Path = Path("/proc/1/cmdline")) -> int:
    """0 when healthy, 1 when not (the exit codes Docker reads)."""
    url = probe_url(role_of(proc.read_bytes()), os.environ)
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return 0 if response.status == 200 else 1
    except OSError as e:  # refused, timed out, or an HTTP error status
        print(f"unhealthy: {url}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
