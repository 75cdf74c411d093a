"""Making sure RabbitMQ is there: start it when it is installed and down, say what to do if not."""

from __future__ import annotations

import shutil
import subprocess

import pika
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from shared.broker import Link
from shared.errors import BrokerUnavailable

MISSING = (
    "RabbitMQ is not reachable at {url} and is not installed here.\n"
    "Install it (Debian: apt-get install -y rabbitmq-server) and start it with "
    "`rabbitmq-server -detached`, or point RABBITMQ_URL at a running broker."
)


def reachable(url: str) -> bool:
    """Whether a connection to the broker can be opened now."""
    link = Link(url)
    try:
        link.connection  # noqa: B018 - opening it is the question
        return True
    except BrokerUnavailable:
        return False
    finally:
        link.reset()


def ensure(url: str, timeout: float = 90.0) -> None:
    """Return once the broker answers; start a local one if it is installed but down."""
    if reachable(url):
        return
    host = pika.URLParameters(url).host
    server = shutil.which("rabbitmq-server")
    if host not in ("127.0.0.1", "localhost", "::1") or server is None:
        raise SystemExit(MISSING.format(url=url))
    print("RabbitMQ is down; starting it with `rabbitmq-server -detached` ...", flush=True)
    subprocess.run([server, "-detached"], check=False)
    waiting = Retrying(retry=retry_if_result(lambda up: not up), stop=stop_after_delay(timeout), wait=wait_fixed(1))
    try:
        waiting(reachable, url)
    except RetryError:
        raise SystemExit(f"RabbitMQ did not come up within {timeout:.0f}s; see its log in /var/log/rabbitmq.") from None
