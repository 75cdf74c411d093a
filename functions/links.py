"""The `Link` header of a paged answer (the listing, the export)."""

from __future__ import annotations

from urllib.parse import urlencode

from functions.http import Request
from shared.clock import epoch_ms_of
from shared.model import Job
from shared.querying import Cursor


def next_link(request: Request, last: Job | None) -> dict[str, str]:
    """The header naming the page after `last`, the same query with its cursor; none when there
    is no next page."""
    if last is None:
        return {}
    params = {k: v[0] for k, v in request.query.items() if k != "cursor"}
    params["cursor"] = Cursor(epoch_ms_of(last.created_at), last.id).encode()
    return {"Link": f'<{request.path}?{urlencode(params)}>; rel="next"'}
