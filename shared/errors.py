"""The one error hierarchy of WaveCom Notify; adapters translate driver errors into these."""

from __future__ import annotations

from dataclasses import dataclass


class WavecomError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(WavecomError):
    """A setting in the environment is malformed."""


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a request: its dotted path and a human message."""

    field: str
    message: str


class ValidationFailed(WavecomError):
    """The request is malformed; `errors` names each bad field."""

    def __init__(self, errors: list[FieldError], detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail)
        self.errors = errors
        self.detail = detail


class JobNotFound(WavecomError):
    """No job has this id (or the id is not a valid job id)."""


class IllegalTransition(WavecomError):
    """The job's current status does not allow the requested change."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a job that is {current} cannot become {target}")
        self.current = current
        self.target = target


class StoreError(WavecomError):
    """The MongoDB store refused an operation."""


class StoreUnavailable(StoreError):
    """The MongoDB store could not be reached."""


class BrokerUnavailable(WavecomError):
    """RabbitMQ could not be reached, or did not confirm a publish."""


class PoisonMessage(WavecomError):
    """A queue message that no retry can make deliverable (not JSON, no such job)."""


class ProviderError(WavecomError):
    """A provider did not deliver; subclasses say whether trying again can help."""


class TransientProviderError(ProviderError):
    """A failure worth retrying later (timeouts, throttling, provider outage)."""


class PermanentProviderError(ProviderError):
    """A failure no retry can fix (the provider rejects the recipient or the message)."""


class Unauthorized(WavecomError):
    """The request carries no API key, or one that is unknown or revoked."""

    def __init__(self, missing: bool) -> None:
        super().__init__("an API key is required" if missing else "the API key was rejected")
        self.missing = missing


class RateLimited(WavecomError):
    """The tenant has used up its request budget for now."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after_s:.1f}s")
        self.retry_after_s = retry_after_s


class PayloadTooLarge(WavecomError):
    """The request body is over the limit."""


class Duplicate(StoreError):
    """A unique index refused a second document with the same key."""


class IdempotencyConflict(WavecomError):
    """An Idempotency-Key is in use: still running (`in_progress`) or sent with another body."""

    def __init__(self, in_progress: bool) -> None:
        super().__init__(
            "a request with this Idempotency-Key is still in progress"
            if in_progress
            else "this Idempotency-Key was used with a different request body"
        )
        self.in_progress = in_progress


class NotFound(WavecomError):
    """No such resource of the tenant (a webhook endpoint, a suppression)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no such {what}")
        self.what = what

