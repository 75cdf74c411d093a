"""The Chalice app: the same route table and `dispatch` handler, behind API Gateway and Lambda."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice
from chalice.app import Response as ChaliceResponse

from functions import dispatch
from functions.http import Request
from functions.observe import observed
from functions.routes import ROUTES, Route, invoke
from shared import logs
from shared.bootstrap import get_deps

app = Chalice(app_name="wavecom-notify")
logs.configure()


def _view(route: Route) -> Callable[..., ChaliceResponse]:
    def view(**params: str) -> ChaliceResponse:
        current = app.current_request
        assert current is not None
        query: Any = current.query_params or {}
        raw = current.raw_body or b""
        request = Request(
            method=current.method,
            path=current.context.get("path", route.path),
            params=params,
            query={k: list(query.getlist(k)) for k in query},
            headers={k.lower(): v for k, v in current.headers.items()},
            body=raw.encode() if isinstance(raw, str) else raw,
        )
        deps = get_deps()
        response = observed(request, route.path, lambda admitted: invoke(route, admitted, deps))
        return ChaliceResponse(body=response.body.decode(), status_code=response.status, headers=dict(response.headers))

    view.__name__ = route.name
    return view


# One registration per entry of the route table; every content type reaches the handler,
# which answers 415 itself, as problem+json, like the local runner.
for _route in ROUTES:
    app.route(_route.path, methods=[_route.method], name=_route.name, content_types=["*/*"])(_view(_route))


@app.lambda_function(name="dispatch")
def dispatch_messages(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Amazon MQ for RabbitMQ event: deliver every job message of the batch."""
    bodies = [
        base64.b64decode(message["data"])
        for messages in event.get("rmqMessagesByQueue", {}).values()
        for message in messages
    ]
    return {"outcomes": dispatch.handle_batch(bodies, get_deps())}
