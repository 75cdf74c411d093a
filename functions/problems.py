"""The one mapping from library errors to HTTP problem responses."""

from __future__ import annotations

import logging
import math

from functions.http import Response, problem
from shared.errors import (
    BrokerUnavailable,
    ConfigError,
    FieldError,
    IdempotencyConflict,
    IllegalTransition,
    JobNotFound,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StoreError,
    StoreUnavailable,
    Unauthorized,
    ValidationFailed,
    WavecomError,
)

log = logging.getLogger("wavecom.http")


def problem_for(error: Exception) -> Response:
    """The response that tells a client what went wrong, never how (no traces, no input echoed)."""
    if isinstance(error, ValidationFailed):
        return problem(400, error.detail, slug="validation-error", errors=error.errors)
    if isinstance(error, Unauthorized):
        detail = "Send an API key as 'Authorization: Bearer <key>'." if error.missing else "The API key is not valid."
        return problem(401, detail, slug="key-required" if error.missing else "key-rejected",
                       headers={"WWW-Authenticate": 'Bearer realm="wavecom"'})
    if isinstance(error, RateLimited):
        return problem(429, "Too many requests for this tenant; slow down.", slug="rate-limited",
                       headers={"Retry-After": str(max(1, math.ceil(error.retry_after_s)))})
    if isinstance(error, PayloadTooLarge):
        return problem(413, str(error), slug="body-too-large")
    if isinstance(error, IdempotencyConflict):
        if error.in_progress:
            return problem(409, str(error).capitalize() + ".", slug="idempotency-in-progress",
                           headers={"Retry-After": "1"})
        return problem(422, str(error).capitalize() + ".", slug="idempotency-key-reused",
                       errors=[FieldError("Idempotency-Key", "was used with a different request body")])
    if isinstance(error, JobNotFound):
        return problem(404, "No notification has this id.", slug="not-found")
    if isinstance(error, NotFound):
        return problem(404, f"No {error.what} has this id for this tenant.", slug="not-found")
    if isinstance(error, IllegalTransition):
        return problem(409, f"The notification is {error.current} and cannot be {error.target}.",
                       slug="illegal-transition")
    if isinstance(error, StoreUnavailable | BrokerUnavailable):
        return problem(503, "A backing service is unavailable; try again shortly.", slug="unavailable",
                       headers={"Retry-After": "5"})
    if isinstance(error, ConfigError):  # a setting this request needs is missing: nothing of the request is echoed
        log.error("request needs a setting", extra={"error": str(error)})
        return problem(503, f"This deployment cannot serve this request: {error}.", slug="not-configured")
    if isinstance(error, StoreError | WavecomError):
        log.error("request failed", extra={"error": str(error), "kind": type(error).__name__})
        return problem(500, "The request could not be completed.", slug="internal")
    log.exception("unexpected error in handler")
    return problem(500, "The request could not be completed.", slug="internal")
