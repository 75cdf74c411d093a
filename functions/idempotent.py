"""Idempotency-Key handling shared by the create routes: run once, answer the same again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.http import PROBLEM_JSON, Request, Response, json_response
from shared.bootstrap import Deps
from shared.idempotency import check_key, fingerprint

Headers = Callable[[Any], dict[str, str]]


def once(request: Request, deps: Deps, payload: Any, produce: Callable[[], tuple[int, Any]],
         headers: Headers = lambda body: {}) -> Response:
    """Answer with `produce()`'s status and body; with an Idempotency-Key, only the first
    request with that key and body produces, and later ones get its answer again."""
    tenant, key = request.tenant or "default", request.headers.get("idempotency-key")
    if key is None:
        return _answer(*produce(), headers)
    check_key(key)
    first = deps.idempotency.begin(tenant, key, fingerprint(payload))
    if first is not None:
        replayed = _answer(first.status, first.body, headers)
        return Response(replayed.status, replayed.body, {**replayed.headers, "Idempotent-Replayed": "true"})
    try:
        status, body = produce()
    except BaseException:
        deps.idempotency.abandon(tenant, key)
        raise
    deps.idempotency.complete(tenant, key, status, body)
    return _answer(status, body, headers)


def _answer(status: int, body: Any, headers: Headers) -> Response:
    # Error answers are problem documents (RFC 9457), whatever else they carry.
    content_type = {"Content-Type": PROBLEM_JSON} if status >= 400 else {}
    return json_response(status, body, {**headers(body), **content_type})
