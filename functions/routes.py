"""The route table, declared once, served by the local runner and the Chalice app alike."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from functions import (
    batch,
    bulk_retry,
    cancel,
    create,
    get,
    health,
    logs,
    metrics,
    openapi,
    privacy,
    ready,
    receipts,
    retry,
    stats,
    suppressions,
    webhooks,
)
from functions import list as list_jobs
from functions.gate import admit
from functions.http import Request, Response, problem
from functions.observe import observed
from functions.policy import finish, preflight
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
    public: bool = False  # answers without an API key

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path template as a regular expression."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/notifications", create.handle, "create"),
    Route("POST", "/api/notifications/batch", batch.handle, "batch"),
    Route("POST", "/api/notifications/retry", bulk_retry.handle, "bulkRetry"),
    Route("GET", "/api/notifications", list_jobs.handle, "list"),
    Route("GET", "/api/notifications/export", privacy.export, "export"),  # before {id}, which it would match
    Route("GET", "/api/notifications/{id}", get.handle, "get"),
    Route("GET", "/api/notifications/{id}/logs", logs.handle, "logs"),
    Route("POST", "/api/notifications/{id}/retry", retry.handle, "retry"),
    Route("POST", "/api/notifications/{id}/cancel", cancel.handle, "cancel"),
    Route("GET", "/api/notifications/{id}/deliveries", webhooks.of_job, "jobDeliveries"),
    Route("GET", "/api/stats", stats.handle, "stats"),
    Route("POST", "/api/webhooks", webhooks.create, "createWebhook"),
    Route("GET", "/api/webhooks", webhooks.index, "listWebhooks"),
    Route("GET", "/api/webhooks/{id}/deliveries", webhooks.deliveries, "webhookDeliveries"),
    Route("POST", "/api/webhooks/{id}/enable", webhooks.enable, "enableWebhook"),
    Route("POST", "/api/webhooks/{id}/rotate", webhooks.rotate, "rotateWebhook"),
    Route("POST", "/api/webhooks/{id}/test", webhooks.test, "testWebhook"),
    Route("DELETE", "/api/webhooks/{id}", webhooks.delete, "deleteWebhook"),  # last: the collection runs in order
    Route("GET", "/api/suppressions", suppressions.index, "listSuppressions"),
    Route("POST", "/api/suppressions", suppressions.add, "addSuppression"),
    Route("DELETE", "/api/suppressions/{recipient}", suppressions.remove, "removeSuppression"),
    Route("POST", "/api/receipts/sns", receipts.handle, "snsReceipt", public=True),
    Route("POST", "/api/erasures", privacy.create_erasure, "createErasure"),
    Route("GET", "/api/erasures/{id}", privacy.get_erasure, "getErasure"),
    Route("GET", "/api/settings", privacy.get_settings, "getSettings"),
    Route("PUT", "/api/settings", privacy.put_settings, "putSettings"),
    Route("GET", "/api/audits", privacy.audits, "audits"),
    Route("GET", "/api/openapi.json", openapi.handle, "openapi", public=True),
    Route("GET", "/health", health.handle, "health", public=True),
    Route("GET", "/ready", ready.handle, "ready", public=True),
    Route("GET", "/metrics", metrics.handle, "metrics", public=True),
)
_COMPILED = [(route, route.pattern) for route in ROUTES]


def invoke(route: Route, request: Request, deps: Deps) -> Response:
    """Admit the caller (unless the route is public), run the handler, and turn any error into
    a problem response; security and CORS headers are added."""
    try:
        admitted = request if route.public else admit(request, deps)
        response = route.handler(admitted, deps)
    except Exception as e:  # noqa: BLE001 - the HTTP boundary: a client never sees a trace
        response = problem_for(e)
    return finish(response, request, deps.settings)


def route_template(path: str) -> str:
    """The template of the route a path matches (the metrics label), or "unmatched"."""
    for route, pattern in _COMPILED:
        if pattern.match(path):
            return route.path
    return "unmatched"


def serve(request: Request, deps: Deps) -> Response:
    """Route a request to its handler: 404 for an unknown path, 405 for a known one's wrong
    method, 204 for a CORS preflight. Every answer carries the request id and is counted."""
    return observed(request, route_template(request.path), lambda routed: _route(routed, deps))


def _route(request: Request, deps: Deps) -> Response:
    if request.method == "OPTIONS":
        return preflight(request, deps.settings)
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        match = pattern.match(request.path)
        if match is None:
            continue
        if route.method != request.method:
            allowed.append(route.method)
            continue
        return invoke(route, dataclasses.replace(request, params=match.groupdict()), deps)
    if allowed:
        response = problem(405, "This path does not accept that method.", headers={"Allow": ", ".join(allowed)})
    else:
        response = problem(404, "No such resource.", slug="not-found")
    return finish(response, request, deps.settings)
