"""The job state machine and the events each transition logs: the one definition of both."""

from __future__ import annotations

from enum import StrEnum

from shared.errors import IllegalTransition


class Status(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Event(StrEnum):
    """What a NotificationLog entry records."""

    CREATED = "created"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY_REQUESTED = "retry_requested"
    DUPLICATE_SKIPPED = "duplicate_skipped"
    LEASE_EXPIRED = "lease_expired"
    DEAD_LETTERED = "dead_lettered"


# Allowed moves. A claim (-> sending) accepts `pending` because the worker can receive the
# message before the API has marked the job `queued`, and `retrying` because the delayed
# message of a retry comes back to a job still in that status.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.QUEUED, Status.SENDING}),
    Status.QUEUED: frozenset({Status.SENDING}),
    Status.SENDING: frozenset({Status.SENT, Status.RETRYING, Status.FAILED}),
    Status.RETRYING: frozenset({Status.QUEUED, Status.SENDING}),
    Status.SENT: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}

TERMINAL: frozenset[Status] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

# The event each status change writes to the job's log.
EVENT_FOR: dict[Status, Event] = {
    Status.QUEUED: Event.QUEUED,
    Status.SENDING: Event.SENDING,
    Status.SENT: Event.SENT,
    Status.RETRYING: Event.RETRY_SCHEDULED,
    Status.FAILED: Event.FAILED,
    Status.CANCELLED: Event.CANCELLED,
}


def sources_of(target: Status) -> frozenset[Status]:
    """Every status from which a job may move to `target`."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def can_move(current: Status, target: Status) -> bool:
    """Whether a job in `current` may move to `target`."""
    return target in TRANSITIONS[current]


def check_move(current: Status, target: Status) -> None:
    """Raise IllegalTransition unless `current -> target` is allowed."""
    if not can_move(current, target):
        raise IllegalTransition(current.value, target.value)
