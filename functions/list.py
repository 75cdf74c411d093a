"""GET /api/notifications: a tenant's jobs, newest first, filtered, a page at a time."""

from __future__ import annotations

import json

from functions.http import JSON, Request, Response
from functions.links import next_link
from shared.bootstrap import Deps
from shared.pagebudget import fitted
from shared.querying import parse_list_query, since_ms


def handle(request: Request, deps: Deps) -> Response:
    """A JSON array of at most `limit` (≤100) jobs, fewer when more would not fit a response
    (shared.pagebudget); the next page's URL in a `Link` header."""
    query, cursor = parse_list_query(request.query)
    jobs = deps.jobs.page(
        request.tenant or "default",
        query.filters(),
        query.limit + 1,  # one more than asked tells whether a next page exists
        after=None if cursor is None else (cursor.created_ms, cursor.job_id),
        since_ms=since_ms(query.since),
    )
    page = fitted(jobs, lambda job: json.dumps(job.to_json()), query.limit)
    body = "[" + ", ".join(page.texts) + "]"  # as json.dumps writes the list
    return Response(200, body.encode(), {"Content-Type": JSON, **next_link(request, page.last if page.more else None)})
