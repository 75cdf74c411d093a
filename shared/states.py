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
    SCHEDULED = "scheduled"  # waiting for its `sendAt`
    EXPIRED = "expired"  # not handed to a provider before its `expiresAt`; never sent


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
    SCHEDULED = "scheduled"
    EXPIRED = "expired"
    # Receipts, after `sent`: what became of the message (shared.receipts); no status changes.
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"  # ended `failed` without a provider call: the recipient is suppressed
    REDACTED = "redacted"  # its message, metadata and recipient erased (retention, or an erasure)


# What a webhook may subscribe to (`notification.<event>`), and the events of a new endpoint.
WEBHOOK_EVENTS: tuple[Event, ...] = (Event.SENT, Event.FAILED, Event.EXPIRED, Event.CANCELLED, Event.DELIVERED,
                                     Event.BOUNCED, Event.COMPLAINED)


# Allowed moves. A claim (-> sending) accepts `pending` because the worker can receive the
# message before the API has marked the job `queued`, `retrying` because the delayed message of
# a retry comes back to a job still in that status, and a due `scheduled` job because the
# sweeper that releases it publishes before it marks it `queued` (shared.deadlines.verdict says
# which claimable jobs are due and which have expired). `sending -> pending` is a lease that
# expired (the worker died mid-send): the outbox publishes the job again. `failed -> pending` is
# a manual retry. A job that is not being sent can be cancelled. A job waiting for a delivery
# attempt expires once its `expiresAt` passes, and so does a sending one whose retry could not
# start before it.
# A claim ends a waiting job `failed`, without a provider call, when its recipient is suppressed.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.SENDING, Status.CANCELLED, Status.EXPIRED, Status.FAILED}),
    Status.PENDING: frozenset({Status.QUEUED, Status.SENDING, Status.CANCELLED, Status.EXPIRED, Status.FAILED}),
    Status.QUEUED: frozenset({Status.SENDING, Status.CANCELLED, Status.EXPIRED, Status.FAILED}),
    Status.SENDING: frozenset({Status.SENT, Status.RETRYING, Status.FAILED, Status.PENDING, Status.EXPIRED}),
    Status.RETRYING: frozenset({Status.QUEUED, Status.SENDING, Status.CANCELLED, Status.EXPIRED, Status.FAILED}),
    Status.SENT: frozenset(),
    Status.FAILED: frozenset({Status.PENDING}),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}

# No delivery moves a job out of these; a message that finds one is a duplicate.
TERMINAL: frozenset[Status] = frozenset({Status.SENT, Status.FAILED, Status.CANCELLED, Status.EXPIRED})

# Jobs waiting for a delivery attempt: what an expiry ends without a provider call.
WAITING: frozenset[Status] = frozenset({Status.SCHEDULED, Status.PENDING, Status.QUEUED, Status.RETRYING})


def sources_of(target: Status) -> frozenset[Status]:
    """Every status from which a job may move to `target`."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


# What a person may do to a job in each status: retry a failed one (a manual retry is the only
# way out of `failed`), cancel one not yet being sent.
RETRYABLE: frozenset[Status] = frozenset({Status.FAILED})
CANCELLABLE: frozenset[Status] = sources_of(Status.CANCELLED)
# The same, for the dashboard's buttons (static_site.build writes it into the page).
STATE_RULES: dict[str, list[str]] = {
    "terminal": sorted(s.value for s in TERMINAL),
    "retryable": sorted(s.value for s in RETRYABLE),
    "cancellable": sorted(s.value for s in CANCELLABLE),
}


def can_move(current: Status, target: Status) -> bool:
    """Whether a job in `current` may move to `target`."""
    return target in TRANSITIONS[current]


def check_move(current: Status, target: Status) -> None:
    """Raise IllegalTransition unless `current -> target` is allowed."""
    if not can_move(current, target):
        raise IllegalTransition(current.value, target.value)
