"""The notification job and its log entries, independent of how they are stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.clock import epoch_ms_of, iso
from shared.masking import mask_recipient
from shared.states import Event, Status


class Priority(StrEnum):
    """Which lane a job waits in: high before normal before low, each consumed on its own."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True)
class NewJob:
    """A validated request to send one notification."""

    type: str
    recipient: str
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    send_at: datetime | None = None  # when it is to be sent; None: at once
    expires_at: datetime | None = None  # when it may no longer be sent; None: never
    ttl_seconds: int | None = None  # as the client gave it (`expires_at` holds what it means)
    redact_after_seconds: int | None = None  # after it ends; None: WAVECOM_REDACT_AFTER_HOURS


@dataclass(frozen=True)
class Job:
    """A notification job as the store holds it."""

    id: str
    type: str
    recipient: str
    message: str | None  # None once redacted
    metadata: dict[str, Any]
    status: Status
    attempts: int
    max_attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    budget: int = 0  # the attempt budget it was created with; a manual retry adds it again
    tenant: str = "default"  # whose job it is; never shown, used to scope every read
    lease_owner: str | None = None  # who holds the job while it is `sending`
    priority: Priority = Priority.NORMAL
    send_at: datetime | None = None
    expires_at: datetime | None = None
    ttl_seconds: int | None = None
    redact_after_seconds: int | None = None
    redacted: bool = False  # its message, metadata and recipient are gone (shared.lifecycle)
    provider: str | None = None  # the provider chosen for the attempt a claim started

    @property
    def expires_at_ms(self) -> int | None:
        """`expires_at` in epoch milliseconds."""
        return None if self.expires_at is None else epoch_ms_of(self.expires_at)

    def _policy_fields(self) -> dict[str, Any]:
        """Its priority and its times, those it has: a job sent at once in the normal lane keeps
        the seed's shape."""
        fields: dict[str, Any] = {} if self.priority is Priority.NORMAL else {"priority": self.priority.value}
        if self.send_at is not None:
            fields["sendAt"] = iso(self.send_at)
        if self.expires_at is not None:
            fields["expiresAt"] = iso(self.expires_at)
        if self.ttl_seconds is not None:
            fields["ttlSeconds"] = self.ttl_seconds
        if self.redact_after_seconds is not None:
            fields["redactAfterSeconds"] = self.redact_after_seconds
        return fields

    def to_json(self) -> dict[str, Any]:
        """The job as the API returns it (the seed's field names)."""
        return {
            "id": self.id,
            "type": self.type,
            "recipient": self.recipient,
            "message": self.message,
            "metadata": self.metadata,
            "status": self.status.value,
            "attempts": self.attempts,
            "maxAttempts": self.max_attempts,
            "lastError": self.last_error,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            **self._policy_fields(),
            **({"redacted": True} if self.redacted else {}),
        }

    def log_fields(self) -> dict[str, Any]:
        """What a log line says of the job: its id, channel and masked recipient, never more."""
        return {"job_id": self.id, "type": self.type, "recipient": mask_recipient(self.recipient)}

    def summary(self) -> dict[str, Any]:
        """The fields a create answers with."""
        return {
            "id": self.id,
            "status": self.status.value,
            "attempts": self.attempts,
            "maxAttempts": self.max_attempts,
            "createdAt": iso(self.created_at),
            **self._policy_fields(),
        }


@dataclass(frozen=True)
class LogEntry:
    """One event in a job's timeline."""

    id: str
    job_id: str
    event: Event
    details: dict[str, Any]
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The entry as the API returns it."""
        return {
            "id": self.id,
            "jobId": self.job_id,
            "event": self.event.value,
            "details": self.details,
            "createdAt": iso(self.created_at),
        }
