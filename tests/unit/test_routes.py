"""The route table and the HTTP boundary, with small fake handlers."""

from functions.http import Request, json_response
from functions.routes import ROUTES, invoke, serve
from shared.errors import JobNotFound, StoreUnavailable


def test_each_route_is_declared_once():
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))


def test_path_parameters_are_extracted():
    route = next(r for r in ROUTES if r.path == "/api/notifications/{id}/logs")
    assert route.pattern.match("/api/notifications/abc/logs").groupdict() == {"id": "abc"}
    assert route.pattern.match("/api/notifications/abc") is None


def test_an_unknown_path_is_a_problem_404():
    response = serve(Request("GET", "/nowhere"), deps=None)  # type: ignore[arg-type]
    assert response.status == 404 and response.headers["Content-Type"] == "application/problem+json"


def test_a_wrong_method_is_405_with_allow():
    response = serve(Request("DELETE", "/api/notifications"), deps=None)  # type: ignore[arg-type]
    assert response.status == 405 and set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_library_errors_become_problems_without_traces():
    def missing(request, deps):
        raise JobNotFound("x")

    def store_down(request, deps):
        raise StoreUnavailable("MongoDB is unreachable")

    def bug(request, deps):
        raise KeyError("secret internals")

    assert invoke(missing, Request("GET", "/"), None).status == 404  # type: ignore[arg-type]
    down = invoke(store_down, Request("GET", "/"), None)  # type: ignore[arg-type]
    assert down.status == 503 and down.headers["Retry-After"]
    crashed = invoke(bug, Request("GET", "/"), None)  # type: ignore[arg-type]
    assert crashed.status == 500 and b"secret" not in crashed.body and b"Traceback" not in crashed.body
    assert set(crashed.json()) == {"type", "title", "status", "detail"}


def test_a_handler_response_passes_through():
    def ok(request, deps):
        return json_response(200, {"ok": True})

    assert invoke(ok, Request("GET", "/"), None).json() == {"ok": True}  # type: ignore[arg-type]
