"""GET /health: the process is up."""

from __future__ import annotations

from functions.http import Request, Response, json_response
from shared.bootstrap import Deps


def handle(request: Request, deps: Deps) -> Response:
    """Always 200 while the process serves requests; it checks no dependency."""
    return json_response(200, {"status": "ok"})
