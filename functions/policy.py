"""Headers every response carries: security headers, and CORS for the configured origins."""

from __future__ import annotations

import dataclasses

from functions.http import Request, Response
from shared.config import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"  # every method of functions.routes (a test checks)
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
CORS_EXPOSED = "Link, Location, Retry-After, X-Request-Id, Idempotent-Replayed"


def _cors(request: Request, settings: Settings) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    if not origin or ("*" not in settings.cors_origins and origin not in settings.cors_origins):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": CORS_EXPOSED}


def preflight(request: Request, settings: Settings) -> Response:
    """The answer to a CORS preflight (OPTIONS): 204, with permission only for allowed origins."""
    headers = _cors(request, settings)
    if headers:
        headers |= {
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    return Response(204, b"", {**SECURITY_HEADERS, **headers})


def finish(response: Response, request: Request, settings: Settings) -> Response:
    """Add the security and CORS headers (a handler's own headers win)."""
    return dataclasses.replace(response, headers={**SECURITY_HEADERS, **_cors(request, settings), **response.headers})
