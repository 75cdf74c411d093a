"""/api/webhooks: a tenant's webhook endpoints, their deliveries, and a job's deliveries."""

from __future__ import annotations

from functions.http import Request, Response, is_json, json_response, problem
from shared import hookadmin
from shared.bootstrap import Deps
from shared.validation import parse_json_body


def _tenant(request: Request) -> str:
    return request.tenant or "default"


def create(request: Request, deps: Deps) -> Response:
    """201 with the endpoint and its secret, shown this once."""
    if not is_json(request):
        return problem(415, "Send the endpoint as application/json.", slug="unsupported-media-type")
    endpoint = hookadmin.register(deps, _tenant(request), parse_json_body(request.body))
    return json_response(201, endpoint.to_json(with_secret=True), {"Location": f"/api/webhooks/{endpoint.id}"})


def index(request: Request, deps: Deps) -> Response:
    """The tenant's endpoints, without their secrets."""
    return json_response(200, [e.to_json() for e in deps.webhooks.of_tenant(_tenant(request))])


def delete(request: Request, deps: Deps) -> Response:
    """204; 404 for no such endpoint."""
    deps.webhooks.delete(_tenant(request), request.params["id"])
    return Response(204, b"", {})


def deliveries(request: Request, deps: Deps) -> Response:
    """An endpoint's latest attempts, newest first."""
    endpoint = deps.webhooks.get(_tenant(request), request.params["id"])
    return json_response(200, deps.webhooks.deliveries(endpoint.tenant, webhook_id=endpoint.id))


def enable(request: Request, deps: Deps) -> Response:
    """The endpoint, enabled again."""
    return json_response(200, deps.webhooks.enable(_tenant(request), request.params["id"]).to_json())


def rotate(request: Request, deps: Deps) -> Response:
    """The endpoint with its new secret, shown this once; the old one signs for 24 hours more."""
    return json_response(200, hookadmin.rotate(deps, _tenant(request), request.params["id"]).to_json(with_secret=True))


def test(request: Request, deps: Deps) -> Response:
    """202: a `webhook.test` event is queued to the endpoint."""
    return json_response(202, hookadmin.send_test(deps, _tenant(request), request.params["id"]))


def of_job(request: Request, deps: Deps) -> Response:
    """A job's webhook attempts at every endpoint, newest first (404 for no such job)."""
    job = deps.jobs.get(request.params["id"], request.tenant)
    return json_response(200, deps.webhooks.deliveries(job.tenant, job_id=job.id))
