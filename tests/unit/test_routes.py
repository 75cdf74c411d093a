"""The route table and the HTTP boundary, with small fakes for keys and limits."""

from types import SimpleNamespace

from functions.http import Request, json_response
from functions.routes import ROUTES, Route, invoke, serve
from shared.config import Settings
from shared.errors import JobNotFound, RateLimited, StoreUnavailable


class FakeKeys:
    def tenant_of(self, key):
        return {"good-key": "acme"}.get(key)


class FakeLimiter:
    def __init__(self, allow=True):
        self.allow = allow

    def take(self, tenant):
        if not self.allow:
            raise RateLimited(2.5)


def make_deps(allow=True, **settings):
    return SimpleNamespace(settings=Settings(**settings), keys=FakeKeys(), limiter=FakeLimiter(allow))


def route(handler, public=False):
    return Route("GET", "/x", handler, "x", public=public)


def ok(request, deps):
    return json_response(200, {"tenant": request.tenant})


AUTH = {"authorization": "Bearer good-key"}


def test_each_route_is_declared_once():
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))


def test_only_health_probes_the_spec_and_sns_receipts_are_public():
    # Receipts are authenticated by SNS's signature and the topic allow-list instead of a key.
    assert {r.path for r in ROUTES if r.public} <= {"/health", "/ready", "/metrics", "/api/openapi.json",
                                                  "/api/receipts/sns"}


def test_cors_allows_every_method_the_api_uses():
    from functions.policy import CORS_METHODS

    assert {r.method for r in ROUTES} | {"OPTIONS"} == {m.strip() for m in CORS_METHODS.split(",")}


def test_path_parameters_are_extracted():
    logs = next(r for r in ROUTES if r.path == "/api/notifications/{id}/logs")
    assert logs.pattern.match("/api/notifications/abc/logs").groupdict() == {"id": "abc"}
    assert logs.pattern.match("/api/notifications/abc") is None


def test_an_unknown_path_is_a_problem_404():
    response = serve(Request("GET", "/nowhere"), make_deps())
    assert response.status == 404 and response.headers["Content-Type"] == "application/problem+json"


def test_a_wrong_method_is_405_with_allow():
    response = serve(Request("DELETE", "/api/notifications"), make_deps())
    assert response.status == 405 and set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_a_request_without_a_key_is_401_key_required():
    response = invoke(route(ok), Request("GET", "/x"), make_deps())
    assert response.status == 401 and response.json()["type"].endswith("key-required")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_key_is_401_key_rejected():
    response = invoke(route(ok), Request("GET", "/x", headers={"authorization": "Bearer nope"}), make_deps())
    assert response.status == 401 and response.json()["type"].endswith("key-rejected")


def test_a_valid_key_names_the_tenant():
    assert invoke(route(ok), Request("GET", "/x", headers=AUTH), make_deps()).json() == {"tenant": "acme"}


def test_a_public_route_needs_no_key():
    assert invoke(route(ok, public=True), Request("GET", "/x"), make_deps()).status == 200


def test_over_the_limit_is_429_with_retry_after():
    response = invoke(route(ok), Request("GET", "/x", headers=AUTH), make_deps(allow=False))
    assert response.status == 429 and response.headers["Retry-After"] == "3"


def test_library_errors_become_problems_without_traces():
    def missing(request, deps):
        raise JobNotFound("x")

    def store_down(request, deps):
        raise StoreUnavailable("MongoDB is unreachable")

    def bug(request, deps):
        raise KeyError("secret internals")

    deps, request = make_deps(), Request("GET", "/x", headers=AUTH)
    assert invoke(route(missing), request, deps).status == 404
    down = invoke(route(store_down), request, deps)
    assert down.status == 503 and down.headers["Retry-After"]
    crashed = invoke(route(bug), request, deps)
    assert crashed.status == 500 and b"secret" not in crashed.body and b"Traceback" not in crashed.body
    assert set(crashed.json()) == {"type", "title", "status", "detail"}


def test_every_response_carries_security_headers():
    for response in (invoke(route(ok), Request("GET", "/x", headers=AUTH), make_deps()),
                     serve(Request("GET", "/nowhere"), make_deps())):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_cors_answers_only_configured_origins():
    deps = make_deps(cors_origins=("https://ops.example.com",))
    allowed = Request("OPTIONS", "/api/notifications", headers={"origin": "https://ops.example.com"})
    preflight = serve(allowed, deps)
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = serve(Request("OPTIONS", "/api/notifications", headers={"origin": "https://evil.example"}), deps)
    assert "Access-Control-Allow-Origin" not in other.headers
    response = invoke(route(ok), Request("GET", "/x", headers={**AUTH, "origin": "https://ops.example.com"}), deps)
    assert response.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"


def test_the_webhook_event_names_of_requests_are_the_state_machines():
    import typing

    from shared.hookadmin import EVENT_NAMES, WebhookEventName

    assert typing.get_args(WebhookEventName) == EVENT_NAMES
