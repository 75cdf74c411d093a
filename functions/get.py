"""GET /api/notifications/{id}: one job."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps


def handle(request: Request, deps: Deps) -> Response:
    """The job, or 404 for an unknown or malformed id."""
    return json_response(200, deps.jobs.get(request.params["id"], request.tenant).to_json())
