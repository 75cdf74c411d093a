"""GET /api/stats: job counts by status and jobs sent per second lately (for the dashboard)."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps
from shared.stats import CACHE, window_from_query


def handle(request: Request, deps: Deps) -> Response:
    """Counts by status and the sent-per-second series; 400 for a bad window."""
    window, bucket = window_from_query(request.query)
    return json_response(200, CACHE.get(deps, request.tenant or "default", window, bucket), {"Cache-Control": "no-store"})
