"""UTC time at millisecond precision, as MongoDB stores it and the API prints it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current UTC time, truncated to milliseconds so it round-trips through MongoDB."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def as_utc_ms(t: datetime) -> datetime:
    """An aware time in UTC, truncated to milliseconds."""
    t = t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, e.g. 2026-11-24T13:05:01.123Z."""
    if t.tzinfo is not None and t.utcoffset():
        t = t.astimezone(UTC)
    # isoformat, not strftime: a list of 100 jobs prints 200 of these (a tenth of its CPU).
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def epoch_ms_of(t: datetime) -> int:
    """`t` in milliseconds since the epoch."""
    return int(t.timestamp() * 1000)


def epoch_ms() -> int:
    """Milliseconds since the epoch: lease expiries are stored as these integers (portable
    arithmetic and comparison on every store)."""
    return int(datetime.now(UTC).timestamp() * 1000)
