"""POST /api/notifications: accept one notification job."""

from __future__ import annotations

from functions.http import Request, Response, is_json, json_response, problem
from shared.bootstrap import Deps
from shared.intake import create_job
from shared.validation import parse_json_body, validate_create


def handle(request: Request, deps: Deps) -> Response:
    """Validate, store and queue a job; 201 with its summary."""
    if not is_json(request):
        return problem(415, "Send the notification as application/json.", slug="unsupported-media-type")
    job = create_job(deps, validate_create(parse_json_body(request.body)))
    return json_response(201, job.summary(), {"Location": f"/api/notifications/{job.id}"})
