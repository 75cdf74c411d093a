"""GET /api/notifications/{id}/logs: a job's timeline."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps


def handle(request: Request, deps: Deps) -> Response:
    """The job's events, oldest first; 404 when there is no such job."""
    return json_response(200, [entry.to_json() for entry in deps.jobs.timeline(request.params["id"], request.tenant)])
