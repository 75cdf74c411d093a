"""POST /api/notifications/retry: queue again the failed jobs a filter selects."""

from __future__ import annotations

from functions.http import Request, Response, is_json, problem
from functions.idempotent import once
from shared.bootstrap import Deps
from shared.manual import retry_failed
from shared.querying import parse_retry_filter
from shared.validation import parse_json_body


def handle(request: Request, deps: Deps) -> Response:
    """202 `{matched, retried}`: up to 1,000 jobs a call, `matched` counts them all (200 for a dry
    run, which changes nothing). Idempotent with an Idempotency-Key."""
    if not is_json(request):
        return problem(415, "Send the filter as application/json.", slug="unsupported-media-type")
    payload = parse_json_body(request.body)
    which = parse_retry_filter(payload)
    tenant = request.tenant or "default"
    return once(request, deps, payload,
                lambda: (200 if which.dryRun else 202, retry_failed(deps, tenant, which, request.key_id).to_json()))
