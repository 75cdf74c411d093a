"""POST /api/notifications/batch: accept up to 1,000 notifications at once."""

from __future__ import annotations

from typing import Any

from functions.http import Request, Response, is_json, problem
from functions.idempotent import once
from shared.bootstrap import Deps
from shared.errors import FieldError, PayloadTooLarge, ValidationFailed
from shared.intake import create_jobs
from shared.model import NewJob
from shared.validation import (
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_ITEMS,
    parse_json_body,
    validate_create,
)


def handle(request: Request, deps: Deps) -> Response:
    """Validate each item like a single create; accept the valid ones in bulk. 201 when all are
    accepted, 207 when some are, 400 when none; `items` answers each one, in order."""
    if not is_json(request):
        return problem(415, "Send the notifications as application/json.", slug="unsupported-media-type")
    payload = parse_json_body(request.body, MAX_BATCH_BODY_BYTES)
    if not isinstance(payload, list) or not payload:
        raise ValidationFailed([FieldError("body", "must be a non-empty JSON array of notifications")])
    if len(payload) > MAX_BATCH_ITEMS:
        raise PayloadTooLarge(f"A batch holds at most {MAX_BATCH_ITEMS} notifications.")
    return once(request, deps, payload, lambda: _accept(deps, payload, request.tenant or "default"))


def _accept(deps: Deps, payload: list[Any], tenant: str) -> tuple[int, Any]:
    answers: list[dict[str, Any]] = [{} for _ in payload]
    valid: list[tuple[int, NewJob]] = []
    for index, item in enumerate(payload):
        try:
            valid.append((index, validate_create(item)))
        except ValidationFailed as e:
            answers[index] = {"index": index,
                              "errors": [{"field": f.field, "message": f.message} for f in e.errors]}
    jobs = create_jobs(deps, [new for _, new in valid], tenant) if valid else []
    for (index, _), job in zip(valid, jobs, strict=True):
        answers[index] = {"index": index, **job.summary()}
    counts = {"accepted": len(valid), "rejected": len(payload) - len(valid), "items": answers}
    if not valid:  # a problem document, with the per-item answers as extension members
        return 400, {"type": "urn:wavecom:problem:validation-error", "title": "Bad Request", "status": 400,
                     "detail": "No notification in the batch is valid.", **counts}
    return (201 if len(valid) == len(payload) else 207), counts
