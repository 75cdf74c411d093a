"""/api/suppressions: recipients the tenant no longer sends to, masked, with their hashes."""

from __future__ import annotations

from functions.http import Request, Response, is_json, json_response, problem
from shared import hookadmin
from shared.bootstrap import Deps
from shared.validation import parse_json_body


def index(request: Request, deps: Deps) -> Response:
    """The tenant's newest entries."""
    return json_response(200, [s.to_json() for s in deps.suppressions.page(request.tenant or "default")])


def add(request: Request, deps: Deps) -> Response:
    """201 when added, 200 when it already was."""
    if not is_json(request):
        return problem(415, "Send the recipient as application/json.", slug="unsupported-media-type")
    added = hookadmin.suppress(deps, request.tenant or "default", parse_json_body(request.body))
    return json_response(201 if added["added"] else 200, added)


def remove(request: Request, deps: Deps) -> Response:
    """204; 404 when the recipient (or hash) is not suppressed."""
    hookadmin.unsuppress(deps, request.tenant or "default", request.params["recipient"])
    return Response(204, b"", {})
