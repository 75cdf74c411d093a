"""The wrapper every HTTP answer goes through: request id in and out, request metrics, a log line."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from functions.http import Request, Response
from shared import context
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, method_label

log = logging.getLogger("wavecom.http")


def observed(request: Request, route: str, answer: Callable[[Request], Response]) -> Response:
    """Answer `request` with its request id current, count and time it under `route` (a route
    template, never the raw path), and echo the request id in `X-Request-Id`."""
    request_id = context.accept(request.headers.get(context.HTTP_HEADER.lower()))
    method = method_label(request.method)
    status = 500  # what is counted if answering raises
    started = time.perf_counter()
    with context.bound(request_id):
        try:
            response = answer(request)
            status = response.status
        finally:
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            # The template, not the path: query strings and paths are not logged, as they can
            # carry a recipient.
            log.info("request", extra={"method": method, "route": route, "status": status,
                                       "duration_ms": round(elapsed * 1000, 1)})
    return dataclasses.replace(response, headers={**response.headers, context.HTTP_HEADER: request_id})
