"""The request id: accepted from a client or made, carried through the queue, read by logging."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

HTTP_HEADER = "X-Request-Id"
MESSAGE_HEADER = "x-request-id"  # the AMQP header a job message carries it in

# Short and plain so it is safe in a header, a log line and a queue message alike.
_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# A contextvar, not a thread-local: each API request and each queue message is handled on a
# pool thread, and the id must never leak from one to the next.
_request_id: ContextVar[str | None] = ContextVar("wavecom_request_id", default=None)


def is_valid(value: object) -> bool:
    """Whether `value` is an acceptable request id: 1–128 characters of [A-Za-z0-9._-]."""
    return isinstance(value, str) and _VALID.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def accept(value: str | None) -> str:
    """The client's request id when it is valid, else a fresh one."""
    return value if value is not None and is_valid(value) else new_request_id()


def from_message(headers: Mapping[str, object] | None) -> str | None:
    """The request id a queue message carries, if it carries a valid one."""
    value = (headers or {}).get(MESSAGE_HEADER)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) and is_valid(value) else None


def current() -> str | None:
    """The request id of the work this thread is doing, if any."""
    return _request_id.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Make `request_id` current for the block, then restore what was current before."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)
