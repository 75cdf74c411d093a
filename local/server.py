"""`wavecom api`: the route table behind Granian.

Granian is a production HTTP server written in Rust (HTTP/1.1 and 2, keep-alive,
backpressure, worker supervision) that runs our WSGI adapter on a pool of blocking threads;
Python's own http.server or a framework's development server are not meant for production.
"""

from __future__ import annotations

import logging

from granian import Granian
from granian.constants import Interfaces

from shared.config import Settings

# A request's thread spends its time waiting on the store and the broker, not running Python:
# concurrent creates share one bulk write and one broker transaction (shared.intake), which
# takes many requests in flight at once. So the pool is sized for waiting, above Granian's rule
# of thumb of 2 threads per core plus one, and Granian's warning about that is left out.
THREADS = 32
# How long Granian waits for a worker process to finish its requests when stopping, before it
# kills it: `wavecom up` gives the whole API 2.5 s.
WORKERS_KILL_TIMEOUT_S = 2


class _ThreadCountNotice(logging.Filter):
    """Drops Granian's warning that THREADS is high for the number of cores (see above)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads, which seems quite high" not in record.getMessage()


def serve(settings: Settings, workers: int = 1, threads: int = THREADS) -> None:
    """Serve the API on settings.host:settings.port until SIGINT or SIGTERM."""
    server = Granian(
        target="local.wsgi:application",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        workers_kill_timeout=WORKERS_KILL_TIMEOUT_S,
        websockets=False,  # none served; Granian would say so at every start
        log_access=False,
    )
    logging.getLogger("_granian").addFilter(_ThreadCountNotice())  # Granian's logger, set up above
    server.serve()
