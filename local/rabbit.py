"""Making sure RabbitMQ is there: start it when it is installed and down, say what to do if not."""

from __future__ import annotations

import shutil
import subprocess
import time

import pika
import pika.exceptions

from shared.broker import parameters

MISSING = (
    "RabbitMQ is not reachable at {url} and is not installed here.\n"
    "Install it (Debian: apt-get install -y rabbitmq-server) and start it with "
    "`rabbitmq-server -detached`, or point RABBITMQ_URL at a running broker."
)


def reachable(url: str) -> bool:
    """Whether a connection to the broker can be opened now."""
    try:
        pika.BlockingConnection(parameters(url)).close()
        return True
    except (pika.exceptions.AMQPError, OSError):
        return False


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
    deadline = time.monotonic() + timeout
    while not reachable(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"RabbitMQ did not come up within {timeout:.0f}s; see its log in /var/log/rabbitmq.")
        time.sleep(1)
