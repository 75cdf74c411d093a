"""GET /ready: whether this process can do its work, i.e. the store and the broker answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from functions.http import PROBLEM_JSON, Request, Response, json_response
from shared import probes
from shared.bootstrap import Deps
from shared.errors import BrokerUnavailable, StoreError

OK, DOWN = "ok", "unavailable"


def _check(ping: Callable[[Deps], None], deps: Deps) -> str:
    try:
        ping(deps)
    except (StoreError, BrokerUnavailable):
        return DOWN
    return OK


def handle(request: Request, deps: Deps) -> Response:
    """200 with each check when both answer; a 503 problem naming what is down otherwise."""
    # Both at once, so a caller waits for the slower check only (each is bounded by a timeout).
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ready") as pool:
        store = pool.submit(_check, probes.ping_store, deps)
        broker = pool.submit(_check, probes.ping_broker, deps)
        checks = {"store": store.result(), "broker": broker.result()}
    down = [name for name, state in checks.items() if state != OK]
    if not down:
        return json_response(200, {"status": "ready", "checks": checks})
    body = {
        "type": "urn:wavecom:problem:not-ready",
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"Not ready: {' and '.join(down)} {'is' if len(down) == 1 else 'are'} unavailable.",
        "checks": checks,
    }
    return Response(503, json.dumps(body).encode(), {"Content-Type": PROBLEM_JSON, "Retry-After": "5"})
