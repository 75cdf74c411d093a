"""The Chalice app: the same route table and `dispatch` handler, behind API Gateway and Lambda."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Rate
from chalice.app import Response as ChaliceResponse

from functions import dispatch, hookdispatch
from functions.http import Request
from functions.observe import observed
from functions.routes import ROUTES, Route, invoke
from shared import lifecycle, logs, outbox
from shared.bootstrap import Deps, get_deps
from shared.errors import StoreError

app = Chalice(app_name="wavecom-notify")
logs.configure()
log = logging.getLogger("wavecom.lambda")

_prepare_lock = threading.Lock()
_prepared: Deps | None = None


def _deps() -> Deps:
    """The process's dependencies, its store prepared once per cold start as `wavecom api` does
    at start-up: indexes (unique ones included) and the bootstrap key. A store that is away is
    tried again on the next call; the handler then answers 503 or hands its batch back."""
    global _prepared
    deps = get_deps()
    with _prepare_lock:
        if _prepared is not deps:
            try:
                deps.prepare_api()
                _prepared = deps
            except StoreError as e:
                log.warning("store not prepared; trying again on the next call", extra={"error": str(e)})
    return deps


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
        deps = _deps()
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
    """Amazon MQ for RabbitMQ event: deliver every job message of the batch. Raising hands the
    whole batch back to the broker; returning acks it."""
    deps = _deps()
    # Outages are waited out while there is time left to store the outcomes afterwards.
    hold_s = context.get_remaining_time_in_millis() / 1000 - deps.settings.lease_ms / 1000 - 5
    return {"outcomes": dispatch.handle_batch(dispatch.messages_of(event), deps, hold_s=max(0.0, hold_s))}


@app.lambda_function(name="webhooks")
def deliver_webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Amazon MQ for RabbitMQ event of `<queue>.webhooks`: deliver every webhook message of the
    batch, concurrently. Raising hands the batch back to the broker; returning acks it."""
    return {"handled": hookdispatch.handle_batch(dispatch.messages_of(event), _deps())}


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sweeper")
def sweep_outbox(event: Any) -> dict[str, int]:
    """Every minute, what `wavecom sweeper` does: queue jobs stored while the broker was away,
    take back jobs whose lease expired, publish again messages presumed lost; and, once a
    WAVECOM_LIFECYCLE_INTERVAL_MS, redact and delete what is due and finish erasures."""
    deps = _deps()
    result = dataclasses.asdict(outbox.sweep(deps))
    if deps.turns.take("lifecycle", deps.settings.lifecycle_interval_ms):
        result |= dataclasses.asdict(lifecycle.lifecycle_sweep(deps))
    return result
