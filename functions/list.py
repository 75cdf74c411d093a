"""GET /api/notifications: a tenant's jobs, newest first, filtered, a page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps
from shared.clock import epoch_ms_of
from shared.querying import Cursor, parse_list_query, since_ms


def handle(request: Request, deps: Deps) -> Response:
    """A JSON array of at most `limit` (≤100) jobs; the next page's URL in a `Link` header."""
    query, cursor = parse_list_query(request.query)
    jobs = deps.jobs.page(
        request.tenant or "default",
        query.filters(),
        query.limit + 1,  # one more than asked tells whether a next page exists
        after=None if cursor is None else (cursor.created_ms, cursor.job_id),
        since_ms=since_ms(query.since),
    )
    page, more = jobs[: query.limit], len(jobs) > query.limit
    headers = {}
    if more:
        last = page[-1]
        params = {k: v[0] for k, v in request.query.items() if k != "cursor"}
        params["cursor"] = Cursor(epoch_ms_of(last.created_at), last.id).encode()
        headers["Link"] = f'<{request.path}?{urlencode(params)}>; rel="next"'
    return json_response(200, [job.to_json() for job in page], headers)
