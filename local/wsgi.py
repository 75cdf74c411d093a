"""WSGI adapter: turns a WSGI call into a `Request` for the route table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from functions.http import Request, Response, problem
from functions.routes import serve
from local.site import with_site
from shared.bootstrap import Deps, get_deps
from shared.intake import group_creates
from shared.validation import MAX_BATCH_BODY_BYTES

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _respond(response: Response, start_response: StartResponse) -> Iterable[bytes]:
    status = f"{response.status} {HTTPStatus(response.status).phrase}"
    headers = [*response.headers.items(), ("Content-Length", str(len(response.body)))]
    start_response(status, headers)
    return [response.body]


def make_app(deps: Callable[[], Deps] = get_deps) -> WSGIApp:
    """A WSGI application serving the route table with the given dependencies."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _respond(problem(400, "Content-Length is not a number."), start_response)
        if length > MAX_BATCH_BODY_BYTES:  # the largest any route takes; each route checks its own
            return _respond(problem(413, f"The body must be at most {MAX_BATCH_BODY_BYTES} bytes.",
                                    slug="body-too-large"), start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        request = Request(
            method=environ["REQUEST_METHOD"].upper(),
            path=environ.get("PATH_INFO") or "/",
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),  # `?since=` is a value
            headers=_headers(environ),
            body=body,
        )
        return _respond(serve(request, deps()), start_response)

    return app


def api_deps() -> Deps:
    """The process's dependencies, with concurrent creates grouped into bulk writes."""
    deps = get_deps()
    group_creates(deps)
    return deps


# The API and, at `/`, the built dashboard: one port for both.
application = with_site(make_app(api_deps))
