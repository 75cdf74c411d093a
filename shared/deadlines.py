"""A job's times: when it may be sent (`sendAt`) and when it may no longer be (`expiresAt`), and
what a claim does with a job because of them. Pure rules, in epoch milliseconds, as the job
document stores them (`sendAtMs`, `expiresAtMs`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.states import Status, sources_of

MAX_SCHEDULE_AHEAD = timedelta(days=30)  # how far ahead `sendAt` may be
MAX_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Asked:
    """The times a create asks for, resolved: when to send (None: at once) and until when (None:
    no end), and the problems with them as (field, message)."""

    send_at: datetime | None
    expires_at: datetime | None
    problems: list[tuple[str, str]]


def resolve(send_at: datetime | None, expires_at: datetime | None, ttl_seconds: int | None, now: datetime) -> Asked:
    """A create's times. `sendAt` is at most 30 days ahead; one not ahead of `now` means at once.
    `ttlSeconds` counts from `sendAt` when that is ahead, else from `now`; `expiresAt` must come
    after both. Not both of `expiresAt` and `ttlSeconds`."""
    problems: list[tuple[str, str]] = []
    if send_at is not None and send_at > now + MAX_SCHEDULE_AHEAD:
        return Asked(None, None, [("sendAt", "must be at most 30 days ahead")])
    if expires_at is not None and ttl_seconds is not None:
        problems.append(("ttlSeconds", "give expiresAt or ttlSeconds, not both"))
    ahead = send_at if send_at is not None and send_at > now else None
    start = ahead or now
    if ttl_seconds is not None:
        expires_at = start + timedelta(seconds=ttl_seconds)
    elif expires_at is not None and expires_at <= start:
        problems.append(("expiresAt", "must be after sendAt" if ahead else "must be in the future"))
    return Asked(ahead, expires_at, problems)


class Verdict(StrEnum):
    """What a claim may do with a job it read."""

    CLAIM = "claim"  # deliver it now
    EXPIRE = "expire"  # its time is up: it ends `expired`, never sent
    BUSY = "busy"  # nothing for this message to do: finished, held by a lease, or not yet due


CLAIMABLE = sources_of(Status.SENDING)


def verdict(status: Status, send_at_ms: int | None, expires_at_ms: int | None, now_ms: int) -> Verdict:
    """What a claim at `now_ms` does with a job in `status` with these times. An expiry wins over
    everything else a waiting job could do; a scheduled job is claimed only once it is due."""
    if status not in CLAIMABLE:
        return Verdict.BUSY
    if expires_at_ms is not None and expires_at_ms <= now_ms:
        return Verdict.EXPIRE
    if status is Status.SCHEDULED and (send_at_ms is None or send_at_ms > now_ms):
        return Verdict.BUSY
    return Verdict.CLAIM


def retry_too_late(expires_at_ms: int | None, retry_at_ms: int) -> bool:
    """Whether a retry due at `retry_at_ms` would start after the job expired: then it expires
    now instead of waiting in a delay queue for nothing."""
    return expires_at_ms is not None and retry_at_ms >= expires_at_ms
