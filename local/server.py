"""`wavecom api`: the route table behind Granian.

Granian is a production HTTP server written in Rust (HTTP/1.1 and 2, keep-alive,
backpressure, worker supervision) that runs our WSGI adapter on a pool of blocking threads;
Python's own http.server or a framework's development server are not meant for production.
"""

from __future__ import annotations

from granian import Granian
from granian.constants import Interfaces

from shared.config import Settings


def serve(settings: Settings, workers: int = 1, threads: int = 32) -> None:
    """Serve the API on settings.host:settings.port until SIGINT or SIGTERM."""
    Granian(
        target="local.wsgi:application",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_access=False,
    ).serve()
