"""What the benchmark runs against: the API, its key, the store and queues, the worker's settings.

The stack is started separately (`make run`); the bench reads the same environment as the
services, and on Linux it also looks at the stack's own processes (/proc) to find the embedded
store's URI, the settings the worker runs with (which nothing else publishes), and the pids
whose CPU time it measures.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from local import procs
from shared.config import Settings

# Only these of a worker's environment are read: never its keys or credentials.
WORKER_SETTINGS = (
    "WAVECOM_QUEUE", "WAVECOM_MOCK_LATENCY_MS", "WAVECOM_MOCK_FAILURE_RATE", "WAVECOM_PREFETCH",
    "WAVECOM_MAX_ATTEMPTS", "WAVECOM_RETRY_BASE_MS", "WAVECOM_HOST", "WAVECOM_METRICS_PORT",
    "WAVECOM_REQUEUE_AFTER_MS",
)


class TargetError(Exception):
    """The bench cannot run against what it was given."""


@dataclass(frozen=True)
class Mock:
    """The mock providers' behaviour during the run, and how the bench knows it."""

    latency_ms: int
    failure_rate: float
    source: str  # "worker" (read from the running workers) or "flags" (as declared)
    workers: int = 0


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (the bench never loads another host)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redacted(url: str) -> str:
    """`url` without its user and password, for the report."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _is_wavecom(argv: tuple[str, ...], role: str) -> bool:
    """Whether a command line is `wavecom <role>` (the script, or `python -m local.cli`)."""
    return len(argv) >= 2 and argv[-1] == role and any(a == "local.cli" or a.endswith("/wavecom") for a in argv[:-1])


def _program(argv: tuple[str, ...]) -> str:
    return Path(argv[0]).name if argv else ""


def _port_of(argv: tuple[str, ...]) -> int | None:
    if "--port" not in argv[:-1]:
        return None
    raw = argv[argv.index("--port") + 1]
    return int(raw) if raw.isdigit() else None


@dataclass(frozen=True)
class Worker:
    """A running `wavecom worker`: its pid, and the settings it runs with."""

    pid: int
    settings: Settings

    @property
    def metrics_url(self) -> str | None:
        """Where it serves its metrics; None when it serves none, or not on loopback."""
        s = self.settings
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        url = f"http://{host}:{s.metrics_port}/metrics"
        return url if s.metrics_port and is_loopback(url) else None


def workers(queue: str) -> list[Worker]:
    """Each running worker that consumes `queue`."""
    found = []
    for p in procs.processes():
        if not _is_wavecom(p.argv, "worker"):
            continue
        env = procs.environ(p.pid, WORKER_SETTINGS)
        if env is not None and (env.get("WAVECOM_QUEUE") or Settings.queue) == queue:
            found.append(Worker(p.pid, Settings.from_env(env)))
    return found


def api_pids(port: int) -> list[int]:
    """The `wavecom api` processes serving `port`, with their Granian workers below them."""
    table = list(procs.processes())
    roots = []
    for p in table:
        env = procs.environ(p.pid, ("WAVECOM_PORT",)) if _is_wavecom(p.argv, "api") else None
        if env is not None and (env.get("WAVECOM_PORT") or str(Settings.port)) == str(port):
            roots.append(p.pid)
    return procs.with_descendants(roots, table)


def store_pids(uri: str) -> list[int]:
    """The store process listening on `uri`'s port: the embedded store, or a local mongod."""
    port = urlsplit(uri).port or 27017
    table = list(procs.processes())
    roots = [p.pid for p in table if ("local.store_main" in p.argv or _program(p.argv) == "mongod")
             and (_port_of(p.argv) or 27017) == port]
    return procs.with_descendants(roots, table)


def broker_pids() -> list[int]:
    """RabbitMQ's Erlang VM (`beam.smp`) and the helpers it started."""
    table = list(procs.processes())
    return procs.with_descendants([p.pid for p in table if _program(p.argv) == "beam.smp"], table)


def mock_of(workers: list[Settings], latency_ms: int | None, failure_rate: float | None) -> Mock:
    """The mock providers' settings: those of the running workers, else the flags (or defaults)."""
    if workers:
        w = workers[0]
        return Mock(w.mock_latency_ms, w.mock_failure_rate, "worker", len(workers))
    return Mock(
        Settings.mock_latency_ms if latency_ms is None else latency_ms,
        Settings.mock_failure_rate if failure_rate is None else failure_rate,
        "flags",
    )


def api_key(settings: Settings, key: str) -> str:
    """--key, else WAVECOM_BOOTSTRAP_KEY, else the key `wavecom up` keeps in WAVECOM_DATA_DIR."""
    if key:
        return key
    if settings.bootstrap_key:
        return settings.bootstrap_key
    path = settings.data_dir / "bootstrap-key"
    if path.exists():
        return path.read_text().strip()
    raise TargetError(f"no API key: pass --key, set WAVECOM_BOOTSTRAP_KEY, or run where {path} exists")


def check_loopback(**urls: str) -> None:
    """Refuse any service that is not on this machine."""
    for name, url in urls.items():
        if not is_loopback(url):
            raise TargetError(f"{name} {redacted(url)} is not on this machine; the bench runs on loopback only")
