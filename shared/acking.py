"""What becomes of a queue message once it was handled: the at-least-once rules, as pure
functions that every entry point (the local consumer, the dispatch Lambda) calls.

- `decide` settles one message: ack it, give it back, hold it through an outage, or move it to
  the dead-letter queue with a reason.
- `fold` turns a batch's decisions into what Amazon MQ's event source can do with a batch:
  ack all of it, or hand all of it back (after dead-lettering the poison messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.errors import BrokerUnavailable, PoisonMessage, StoreUnavailable

DELIVERY_COUNT = "x-delivery-count"  # set by quorum queues on each redelivery


class Action(StrEnum):
    """What happens to a message."""

    ACK = "ack"
    REQUEUE = "requeue"  # back to the queue, for this or another worker
    HOLD = "hold"  # keep it and handle it again once the outage is over
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Decision:
    """One message's fate, and why (for a dead letter)."""

    action: Action
    reason: str = ""


ACK = Decision(Action.ACK)
REQUEUE = Decision(Action.REQUEUE)
HOLD = Decision(Action.HOLD)


def deliveries(headers: Mapping[str, Any] | None) -> int:
    """How often the broker has handed this message out, this time included."""
    count = (headers or {}).get(DELIVERY_COUNT, 0)
    return (count if isinstance(count, int) and not isinstance(count, bool) else 0) + 1


def decide(result: object, delivered: int, limit: int) -> Decision:
    """The fate of a message whose handling ended in `result` (an outcome, or the exception
    raised), on its `delivered`-th delivery, with `limit` deliveries allowed.

    An outage is held rather than requeued: requeueing would spend the message's delivery count
    on an outage that is not its fault. A handler error is requeued until the limit, then
    dead-lettered with its reason (the quorum queue would dead-letter it anyway, with none).
    """
    if not isinstance(result, BaseException):
        return ACK
    if isinstance(result, PoisonMessage):
        return Decision(Action.DEAD_LETTER, str(result))
    if isinstance(result, (StoreUnavailable, BrokerUnavailable)):
        return HOLD
    if delivered >= limit:
        return Decision(Action.DEAD_LETTER, f"handler error ({type(result).__name__}) after {delivered} deliveries")
    return REQUEUE


@dataclass(frozen=True)
class Verdict:
    """What to do with a whole batch: the messages to dead-letter first (index, reason), then
    ack the batch (`ack_all`) or hand all of it back to the broker."""

    ack_all: bool
    dead_letters: tuple[tuple[int, str], ...]


def fold(decisions: Sequence[Decision]) -> Verdict:
    """A batch's decisions as Amazon MQ can carry them out: it acks or returns a batch whole. The
    poison messages are dead-lettered either way; a batch that comes back holds them again and
    they are dead-lettered again (the dead-letter queue may then hold a copy twice)."""
    dead = tuple((i, d.reason) for i, d in enumerate(decisions) if d.action is Action.DEAD_LETTER)
    return Verdict(all(d.action in (Action.ACK, Action.DEAD_LETTER) for d in decisions), dead)
