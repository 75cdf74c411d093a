"""The queue-triggered handler: an Amazon MQ for RabbitMQ event (a batch of `{jobId}` messages)
in, each message's outcome out."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from tenacity import stop_before_delay

from shared.acking import decide, fold
from shared.bootstrap import Deps
from shared.messages import Message, dead_letter, handle_through_outages

log = logging.getLogger("wavecom.dispatch")
DEAD_LETTERED = "dead_lettered"


def messages_of(event: Mapping[str, Any]) -> list[Message]:
    """The messages of an Amazon MQ for RabbitMQ event, every queue's, in order."""
    return [
        Message(base64.b64decode(record["data"]), _headers(record))
        for records in (event.get("rmqMessagesByQueue") or {}).values()
        for record in records
    ]


def _headers(record: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda sends an AMQP string header as {"bytes": [...]}, Java's signed bytes.
    headers = (record.get("basicProperties") or {}).get("headers") or {}
    return {name: _header_value(value) for name, value in headers.items()}


def _header_value(value: Any) -> Any:
    if not (isinstance(value, dict) and isinstance(value.get("bytes"), list)):
        return value
    raw = bytes(b & 0xFF for b in value["bytes"])
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def handle_batch(messages: list[Message], deps: Deps, *, hold_s: float = 0.0) -> list[str]:
    """Deliver a batch and return each message's outcome.

    The event source acks the batch as a whole when this returns and hands all of it back when
    this raises, so this returns only once every outcome is stored. A store or broker outage is
    waited out for up to `hold_s` seconds; poison messages are dead-lettered either way
    (`shared.acking.fold`); jobs finished on an earlier pass are skipped by the claim.
    """
    results = handle_through_outages(deps, messages, stop=stop_before_delay(hold_s))
    verdict = fold([decide(r, m.deliveries, deps.settings.delivery_limit) for r, m in zip(results, messages, strict=True)])
    for index, reason in verdict.dead_letters:
        dead_letter(deps, messages[index], reason)
    dead = {index for index, _ in verdict.dead_letters}
    if not verdict.ack_all:
        failure = next(r for i, r in enumerate(results) if isinstance(r, BaseException) and i not in dead)
        log.warning("batch handed back to the broker", extra={"messages": len(messages), "error": type(failure).__name__})
        raise failure
    return [DEAD_LETTERED if index in dead else str(result) for index, result in enumerate(results)]
