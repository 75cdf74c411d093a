"""Queue messages of job ids, handled a batch at a time: what the local consumer and the dispatch
Lambda both call. Each message ends in an outcome, or in the error that says what becomes of it
(shared.acking.decide)."""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, wait_exponential
from tenacity.stop import StopBaseT

from shared import context, timeline
from shared.acking import deliveries
from shared.bootstrap import Deps
from shared.delivery import Outcome, Result, deliver
from shared.errors import BrokerUnavailable, PoisonMessage, StoreUnavailable, WavecomError
from shared.metrics import JOBS
from shared.states import Event

log = logging.getLogger("wavecom.messages")


@dataclass(frozen=True)
class Message:
    """One queue message: its body and AMQP headers."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        """How often the broker has handed this message out, this time included."""
        return deliveries(self.headers)

    @property
    def request_id(self) -> str | None:
        """The id of the request that created the job, carried for the logs."""
        return context.from_message(self.headers)


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


def handle(deps: Deps, messages: list[Message]) -> list[Result]:
    """Deliver the jobs a batch of messages names; each message's outcome, or the error that
    ended its handling (PoisonMessage when no delivery can ever happen, StoreUnavailable or
    BrokerUnavailable when it should be handled again once the outage is over)."""
    results: list[Result | None] = [None] * len(messages)
    wanted: dict[str, list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        try:
            wanted[job_id_of(message.body)].append(index)
        except PoisonMessage as e:
            results[index] = e
    if wanted:
        requests = {job_id: messages[indexes[0]].request_id for job_id, indexes in wanted.items()}
        copies = {job_id: len(indexes) - 1 for job_id, indexes in wanted.items() if len(indexes) > 1}
        done = _deliver_isolating_bugs(deps, list(wanted), requests, copies)
        for job_id, (first, *others) in wanted.items():
            result = results[first] = done.get(job_id, PoisonMessage("no job has this id"))
            for index in others:  # the same job twice in one batch: one delivery, the rest skipped
                results[index] = result if isinstance(result, BaseException) else Outcome.SKIPPED
    for outcome, n in Counter(r.value for r in results if isinstance(r, Outcome)).items():
        JOBS.labels(outcome).inc(n)
    return [r if r is not None else PoisonMessage("unreadable") for r in results]


def _deliver_isolating_bugs(deps: Deps, job_ids: list[str], requests: Mapping[str, str | None],
                            copies: Mapping[str, int]) -> dict[str, Result]:
    """`deliver`, with what it raises as every job's result. An unexpected error (a bug) in a
    batch of several is followed by delivering each job alone, so one job that triggers it
    does not take its batch-mates down with it."""
    try:
        return deliver(deps, job_ids, requests, copies)
    except WavecomError as e:
        return dict.fromkeys(job_ids, e)
    except Exception as e:  # the consumer's boundary: the worker stays up, the message is settled
        log.exception("delivery raised", extra={"jobs": len(job_ids)})
        if len(job_ids) == 1:
            return {job_ids[0]: e}
        return {k: v for job_id in job_ids for k, v in _deliver_isolating_bugs(deps, [job_id], requests, copies).items()}


class _Held(Exception):
    """Some messages met a store or broker outage and wait to be handled again."""


def handle_through_outages(deps: Deps, messages: list[Message], stop: StopBaseT) -> list[Result]:
    """`handle` a batch, then handle again, with backoff, the messages that met a store or
    broker outage, until none did or `stop` says to give up (their results are then still the
    outage errors). Holding a message through an outage, instead of giving it back, keeps the
    outage from spending its delivery count; handling it again is safe, the claim decides
    whether anything is still to be done."""
    results: list[Result] = [StoreUnavailable("not handled yet")] * len(messages)
    held = list(range(len(messages)))

    def note(state: RetryCallState) -> None:
        log.warning("store or broker unavailable; holding the messages", extra={"messages": len(held)})

    try:
        for attempt in Retrying(retry=retry_if_exception_type(_Held), stop=stop, before_sleep=note,
                                wait=wait_exponential(multiplier=0.2, max=5)):
            with attempt:
                for index, result in zip(held, handle(deps, [messages[i] for i in held]), strict=True):
                    results[index] = result
                held = [i for i in held if isinstance(results[i], (StoreUnavailable, BrokerUnavailable))]
                if held:
                    raise _Held()
    except RetryError:
        pass  # given up: the held messages keep their outage errors
    return results


def dead_letter(deps: Deps, message: Message, reason: str) -> None:
    """Move a message to the dead-letter queue with its reason, and note it in its job's
    timeline if it names a job; BrokerUnavailable if the broker did not take it."""
    deps.publisher.dead_letter(message.body, reason, headers=dict(message.headers))
    log.warning("message dead-lettered", extra={"reason": reason, "request_id": message.request_id})
    try:
        deps.jobs.note(job_id_of(message.body), timeline.entry(Event.DEAD_LETTERED, {
            "reason": reason, "queue": deps.publisher.topology.dead}))
    except WavecomError:
        pass  # no job to note it on (not JSON, no such job) or the store is away
