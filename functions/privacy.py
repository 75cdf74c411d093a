"""The data-protection routes: erasures, the export, the tenant's retention, the audit trail."""

from __future__ import annotations

from functions.http import Request, Response, is_json, json_response, problem
from functions.links import next_link
from shared import pagebudget
from shared.bootstrap import Deps
from shared.clock import epoch_ms_of
from shared.lifecycle import erase
from shared.pagebudget import export_line, fitted, newest_first
from shared.privacyrequests import parse_erasure, parse_export, parse_retention
from shared.privacystores import erasure_json
from shared.validation import parse_json_body

NDJSON = "application/x-ndjson"
FAR_ID = "f" * 24  # the highest job id: a cursor at `until` keeps every job of its millisecond


def _tenant(request: Request) -> str:
    return request.tenant or "default"


def create_erasure(request: Request, deps: Deps) -> Response:
    """202: the recipient's jobs are erased now; the final pass follows after the lease time."""
    if not is_json(request):
        return problem(415, "Send the recipient as application/json.", slug="unsupported-media-type")
    asked = parse_erasure(parse_json_body(request.body))
    erasure = erase(deps, _tenant(request), asked.recipient, request.key_id)
    return json_response(202, erasure_json(erasure), {"Location": f"/api/erasures/{erasure['_id']}"})


def get_erasure(request: Request, deps: Deps) -> Response:
    """An erasure's progress: `running` until its final pass, then `done`."""
    return json_response(200, erasure_json(deps.erasures.get(_tenant(request), request.params["id"])))


def export(request: Request, deps: Deps) -> Response:
    """The tenant's jobs as NDJSON, newest first, at most 1,000 lines a page and what fits a
    response (shared.pagebudget); the next page in `Link`. Each page is recorded in the audit trail."""
    since, until, cursor = parse_export(request.query)
    after = (cursor.created_ms, cursor.job_id) if cursor else (epoch_ms_of(until), FAR_ID) if until else None
    jobs = newest_first(deps.jobs, _tenant(request), after, epoch_ms_of(since) if since else None)
    page = fitted(jobs, export_line, pagebudget.EXPORT_PAGE)
    headers = {"Content-Type": NDJSON, **next_link(request, page.last if page.more else None)}
    deps.audits.record(_tenant(request), "export", request.key_id, jobs=len(page.texts),
                       since=since.isoformat() if since else None, until=until.isoformat() if until else None)
    return Response(200, "".join(page.texts).encode(), headers)


def get_settings(request: Request, deps: Deps) -> Response:
    """How long this tenant's data is kept."""
    return json_response(200, _settings(deps, _tenant(request)))


def put_settings(request: Request, deps: Deps) -> Response:
    """Set the tenant's own retention (shorter than the deployment's), or drop it with null."""
    if not is_json(request):
        return problem(415, "Send the settings as application/json.", slug="unsupported-media-type")
    asked = parse_retention(parse_json_body(request.body), deps.settings.retention_days)
    deps.policies.set_retention_days(_tenant(request), asked.retentionDays)
    return json_response(200, _settings(deps, _tenant(request)))


def _settings(deps: Deps, tenant: str) -> dict[str, int]:
    own = deps.policies.retention_days(tenant)
    return {"retentionDays": min(own or deps.settings.retention_days, deps.settings.retention_days),
            "redactAfterHours": deps.settings.redact_after_hours}


def audits(request: Request, deps: Deps) -> Response:
    """The tenant's latest exports and erasures: what, when, by which key."""
    return json_response(200, deps.audits.of_tenant(_tenant(request)))
