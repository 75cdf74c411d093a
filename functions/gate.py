"""Who is calling: the API key names the tenant, whose rate limit then applies."""

from __future__ import annotations

import dataclasses

from functions.http import Request
from shared.bootstrap import Deps
from shared.errors import Unauthorized
from shared.tenants import key_id


def bearer_key(request: Request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def admit(request: Request, deps: Deps) -> Request:
    """The request with its tenant and key id set; Unauthorized without a valid key, RateLimited over the limit."""
    key = bearer_key(request)
    if key is None:
        raise Unauthorized(missing=True)
    tenant = deps.keys.tenant_of(key)
    if tenant is None:
        raise Unauthorized(missing=False)
    deps.limiter.take(tenant)
    return dataclasses.replace(request, tenant=tenant, key_id=key_id(key))
