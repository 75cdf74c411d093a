"""POST /api/notifications: accept one notification job."""

from __future__ import annotations

from functions.http import Request, Response, is_json, json_response, problem
from shared.bootstrap import Deps
from shared.idempotency import check_key, fingerprint
from shared.intake import create_job
from shared.validation import parse_json_body, validate_create


def handle(request: Request, deps: Deps) -> Response:
    """Validate, store and queue a job; 201 with its summary. With an Idempotency-Key the same
    key and body get the first answer again."""
    if not is_json(request):
        return problem(415, "Send the notification as application/json.", slug="unsupported-media-type")
    payload = parse_json_body(request.body)
    new = validate_create(payload)
    tenant = request.tenant or "default"
    key = request.headers.get("idempotency-key")
    if key is None:
        return _created(create_job(deps, new, tenant).summary())
    check_key(key)
    first = deps.idempotency.begin(tenant, key, fingerprint(payload))
    if first is not None:
        return _created(first.body, replayed=True)
    try:
        summary = create_job(deps, new, tenant).summary()
    except BaseException:
        deps.idempotency.abandon(tenant, key)
        raise
    deps.idempotency.complete(tenant, key, 201, summary)
    return _created(summary)


def _created(summary: dict[str, object], replayed: bool = False) -> Response:
    headers = {"Location": f"/api/notifications/{summary['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(201, summary, headers)
