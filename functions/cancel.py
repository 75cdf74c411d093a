"""POST /api/notifications/{id}/cancel: stop a job that has not been sent."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps
from shared.manual import cancel_job


def handle(request: Request, deps: Deps) -> Response:
    """200 with the cancelled job; 409 once it is being sent or finished; 404 for no such job."""
    return json_response(200, cancel_job(deps, request.params["id"], request.tenant, request.key_id).to_json())
