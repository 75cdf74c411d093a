"""The one mapping from library errors to HTTP problem responses."""

from __future__ import annotations

import logging

from functions.http import Response, problem
from shared.errors import (
    BrokerUnavailable,
    IllegalTransition,
    JobNotFound,
    StoreError,
    StoreUnavailable,
    ValidationFailed,
    WavecomError,
)

log = logging.getLogger("wavecom.http")


def problem_for(error: Exception) -> Response:
    """The response that tells a client what went wrong, never how (no traces, no input echoed)."""
    if isinstance(error, ValidationFailed):
        return problem(400, error.detail, slug="validation-error", errors=error.errors)
    if isinstance(error, JobNotFound):
        return problem(404, "No notification has this id.", slug="not-found")
    if isinstance(error, IllegalTransition):
        return problem(409, f"The notification is {error.current} and cannot be {error.target}.",
                       slug="illegal-transition")
    if isinstance(error, StoreUnavailable | BrokerUnavailable):
        return problem(503, "A backing service is unavailable; try again shortly.", slug="unavailable",
                       headers={"Retry-After": "5"})
    if isinstance(error, StoreError | WavecomError):
        log.error("request failed", extra={"error": str(error), "kind": type(error).__name__})
        return problem(500, "The request could not be completed.", slug="internal")
    log.exception("unexpected error in handler")
    return problem(500, "The request could not be completed.", slug="internal")
