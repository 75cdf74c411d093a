"""POST /api/notifications: accept one notification job."""

from __future__ import annotations

from typing import Any

from functions.http import Request, Response, is_json, problem
from functions.idempotent import once
from shared.bootstrap import Deps
from shared.intake import create_job
from shared.validation import parse_json_body, validate_create


def handle(request: Request, deps: Deps) -> Response:
    """Validate, store and queue a job; 201 with its summary. With an Idempotency-Key the same
    key and body get the first answer again."""
    if not is_json(request):
        return problem(415, "Send the notification as application/json.", slug="unsupported-media-type")
    payload = parse_json_body(request.body)
    new = validate_create(payload)
    return once(request, deps, payload, lambda: (201, create_job(deps, new, request.tenant or "default").summary()),
                _location)


def _location(summary: Any) -> dict[str, str]:
    return {"Location": f"/api/notifications/{summary['id']}"}
