"""POST /api/notifications/{id}/retry: queue a failed job again."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps
from shared.manual import retry_job


def handle(request: Request, deps: Deps) -> Response:
    """202 with the job; 409 unless it is `failed`; 404 for no such job."""
    return json_response(202, retry_job(deps, request.params["id"], request.tenant, request.key_id).to_json())
