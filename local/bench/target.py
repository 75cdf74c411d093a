"""What the benchmark runs against: the API, its key, the store and queues, the worker's settings.

The stack is started separately (`make run`); the bench reads the same environment as the
services, and on Linux it also looks at the stack's own processes (/proc) to find the embedded
store's URI and the settings the worker runs with, which nothing else publishes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from local.stack import embedded_store_uri
from local.stack import processes as _processes
from shared.config import Settings

# Only these of a worker's environment are read: never its keys or credentials.
WORKER_SETTINGS = (
    "WAVECOM_QUEUE", "WAVECOM_MOCK_LATENCY_MS", "WAVECOM_MOCK_FAILURE_RATE", "WAVECOM_PREFETCH",
    "WAVECOM_MAX_ATTEMPTS", "WAVECOM_RETRY_BASE_MS",
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


def _environ(entry: Path) -> dict[str, str] | None:
    try:
        raw = (entry / "environ").read_bytes().decode(errors="replace")
    except OSError:
        return None
    pairs = (item.partition("=") for item in raw.split("\0") if "=" in item)
    return {k: v for k, _, v in pairs if k in WORKER_SETTINGS}


def worker_settings(queue: str) -> list[Settings]:
    """The settings of each running worker that consumes `queue`."""
    found = []
    for argv, entry in _processes():
        if len(argv) < 2 or argv[-1] != "worker":
            continue
        if not any(a == "local.cli" or a.endswith("/wavecom") for a in argv[:-1]):
            continue
        env = _environ(entry)
        if env is not None and (env.get("WAVECOM_QUEUE") or Settings.queue) == queue:
            found.append(Settings.from_env(env))
    return found


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


def store_settings(settings: Settings, mongodb_uri: str) -> Settings:
    """`settings` pointing at the stack's store: --mongodb-uri, MONGODB_URI, or the embedded
    store `wavecom up` started for WAVECOM_DATA_DIR."""
    uri = mongodb_uri or (settings.mongodb_uri if settings.mongodb_uri_set else "")
    uri = uri or embedded_store_uri(settings.data_dir) or ""
    if not uri:
        raise TargetError(
            f"no store found: MONGODB_URI is unset and no embedded store serves {settings.data_dir}/; "
            "run the bench where `wavecom up` runs, or pass --mongodb-uri with the URI it printed"
        )
    return settings.with_overrides(mongodb_uri=uri, mongodb_uri_set=True)


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
