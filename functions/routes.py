"""The route table, declared once, served by the local runner and the Chalice app alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from functions import cancel, create, get, health, logs, retry, stats
from functions import list as list_jobs
from functions.http import Request, Response, problem
from functions.problems import problem_for
from shared.bootstrap import Deps

Handler = Callable[[Request, Deps], Response]


@dataclass(frozen=True)
class Route:
    """One HTTP route: method, path template with `{name}` parameters, handler."""

    method: str
    path: str
    handler: Handler
    name: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path template as a regular expression."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/notifications", create.handle, "create"),
    Route("GET", "/api/notifications", list_jobs.handle, "list"),
    Route("GET", "/api/notifications/{id}", get.handle, "get"),
    Route("GET", "/api/notifications/{id}/logs", logs.handle, "logs"),
    Route("POST", "/api/notifications/{id}/retry", retry.handle, "retry"),
    Route("POST", "/api/notifications/{id}/cancel", cancel.handle, "cancel"),
    Route("GET", "/api/stats", stats.handle, "stats"),
    Route("GET", "/health", health.handle, "health"),
)
_COMPILED = [(route, route.pattern) for route in ROUTES]


def invoke(handler: Handler, request: Request, deps: Deps) -> Response:
    """Run a handler, turning any error into a problem response."""
    try:
        return handler(request, deps)
    except Exception as e:  # noqa: BLE001 - the HTTP boundary: a client never sees a trace
        return problem_for(e)


def serve(request: Request, deps: Deps) -> Response:
    """Route a request to its handler: 404 for an unknown path, 405 for a known one's wrong method."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        match = pattern.match(request.path)
        if match is None:
            continue
        if route.method != request.method:
            allowed.append(route.method)
            continue
        routed = Request(request.method, request.path, match.groupdict(), request.query, request.headers, request.body)
        return invoke(route.handler, routed, deps)
    if allowed:
        return problem(405, "This path does not accept that method.", headers={"Allow": ", ".join(allowed)})
    return problem(404, "No such resource.", slug="not-found")
