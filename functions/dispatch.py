"""The queue-triggered handler: one message `{jobId}` in, one delivery outcome out."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared import context
from shared.bootstrap import Deps
from shared.delivery import Outcome, deliver
from shared.errors import (
    BrokerUnavailable,
    JobNotFound,
    PoisonMessage,
    StoreUnavailable,
    WavecomError,
)
from shared.states import Event

log = logging.getLogger("wavecom.dispatch")
DEAD_LETTERED = "dead_lettered"


def job_id_of(body: bytes) -> str:
    """The job id a queue message carries, or PoisonMessage."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PoisonMessage("message body is not JSON") from None
    job_id = payload.get("jobId") if isinstance(payload, dict) else None
    if not isinstance(job_id, str):
        raise PoisonMessage("message has no jobId")
    return job_id


def handle(body: bytes, deps: Deps) -> Outcome:
    """Deliver the job the message names; PoisonMessage when no delivery can ever happen."""
    job_id = job_id_of(body)
    try:
        return deliver(deps, job_id)
    except JobNotFound:
        raise PoisonMessage("no job has this id") from None


@dataclass(frozen=True)
class Message:
    """One queue message of a batch: its body and AMQP headers."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        """How often the broker has handed this message out, this time included."""
        count = self.headers.get("x-delivery-count", 0)
        return (count if isinstance(count, int) else 0) + 1


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
    """Deliver a batch (an Amazon MQ event) concurrently and return each message's outcome.

    The event source acks the batch as a whole when this returns and hands all of it back when
    this raises, so this returns only once every outcome is stored. A store or broker outage is
    waited out for up to `hold_s` seconds, then raised. Poison messages are dead-lettered only
    when the rest of the batch succeeded, so a batch that comes back does not dead-letter them
    twice; jobs finished on an earlier pass are skipped by the claim.
    """
    until = time.monotonic() + hold_s
    workers = max(1, min(len(messages), deps.settings.prefetch))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch") as pool:
        futures = [pool.submit(_through_outages, message, deps, until) for message in messages]
    results: list[str | BaseException] = [f.exception() or f.result() for f in futures]
    poison: dict[int, str] = {}
    failures: list[BaseException] = []
    for index, (message, result) in enumerate(zip(messages, results, strict=True)):
        if isinstance(result, PoisonMessage):
            poison[index] = str(result)
        elif isinstance(result, (StoreUnavailable, BrokerUnavailable)):
            failures.append(result)
        elif isinstance(result, Exception) and message.deliveries >= deps.settings.delivery_limit:
            # A handler bug, out of tries: dead-letter it with a reason rather than let the whole
            # batch come back again (the quorum queue would dead-letter it anyway, with none).
            poison[index] = f"handler error ({type(result).__name__}) after {message.deliveries} deliveries"
        elif isinstance(result, BaseException):
            failures.append(result)
    if failures:
        log.warning("batch handed back to the broker",
                    extra={"messages": len(messages), "failed": len(failures), "error": type(failures[0]).__name__})
        raise failures[0]
    for index, reason in poison.items():
        dead_letter(messages[index], reason, deps)
    return [DEAD_LETTERED if index in poison else str(result) for index, result in enumerate(results)]


def _through_outages(message: Message, deps: Deps, until: float) -> str:
    """Handle one message, retrying store or broker outages until `until` (monotonic)."""
    backoff = 0.2
    with context.bound(context.from_message(message.headers)):
        while True:
            try:
                return handle(message.body, deps).value
            except PoisonMessage:
                raise
            except (StoreUnavailable, BrokerUnavailable) as e:
                if time.monotonic() + backoff > until:
                    raise
                log.warning("store or broker unavailable; holding the message", extra={"error": str(e)})
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("handler raised")
                raise


def dead_letter(message: Message, reason: str, deps: Deps) -> None:
    """Move a message to the dead-letter queue and note it in its job's log, if it has one."""
    deps.publisher.dead_letter(message.body, reason, headers=dict(message.headers))
    log.warning("message dead-lettered", extra={"reason": reason})
    try:
        job_id = job_id_of(message.body)
        deps.jobs.get(job_id)
        deps.logs.add(job_id, Event.DEAD_LETTERED, {"reason": reason, "queue": deps.publisher.topology.dead})
    except WavecomError:
        pass  # no job to note it on (not JSON, no such job) or the store is away
