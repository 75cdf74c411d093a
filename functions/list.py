"""GET /api/notifications: the latest jobs, newest first."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps

LIMIT = 100


def handle(request: Request, deps: Deps) -> Response:
    """At most 100 jobs, newest first."""
    return json_response(200, [job.to_json() for job in deps.jobs.latest(LIMIT)])
