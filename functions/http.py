"""The request and response every HTTP handler speaks, whatever serves it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from shared.errors import FieldError

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Request:
    """An HTTP request, reduced to what handlers read."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    tenant: str | None = None  # set once an API key has been checked
    key_id: str | None = None  # the public id of that key, recorded on what it asks for


@dataclass(frozen=True)
class Response:
    """An HTTP response with a serialised body."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        """The body decoded (for tests and adapters)."""
        return json.loads(self.body)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(payload).encode(), {"Content-Type": JSON, **(headers or {})})


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {
        "type": f"urn:wavecom:problem:{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return Response(status, json.dumps(body).encode(), {"Content-Type": PROBLEM_JSON, **(headers or {})})


def is_json(request: Request) -> bool:
    """Whether the request declares a JSON body (`application/json` or a `+json` type)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))
