"""Delivering jobs: claim them under a lease, call their providers, store what happened.

One implementation for every entry point: the local consumer and the dispatch Lambda both hand
it a batch of queue messages. A batch costs the store one read and one bulk write to claim its
jobs and one bulk write to store their outcomes, whatever its size; provider calls run
concurrently in between.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)
from tenacity.stop import StopBaseT

from shared import context, timeline
from shared.acking import deliveries
from shared.bootstrap import Deps
from shared.clock import iso, now
from shared.errors import (
    BrokerUnavailable,
    PermanentProviderError,
    PoisonMessage,
    ProviderError,
    StoreUnavailable,
    TransientProviderError,
    WavecomError,
)
from shared.masking import mask_recipient
from shared.metrics import JOBS, PROVIDER_LATENCY, RETRIES
from shared.model import Job
from shared.providers import Receipt
from shared.states import TERMINAL, Event, Status
from shared.store import Outcome as Stored

log = logging.getLogger("wavecom.delivery")
T = TypeVar("T")


class Outcome(StrEnum):
    """How one queue message for a job ended."""

    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    SKIPPED = "skipped"
    LOST_LEASE = "lost_lease"


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


Result = Outcome | BaseException


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


def deliver(deps: Deps, job_ids: list[str], requests: Mapping[str, str | None] | None = None,
            copies: Mapping[str, int] | None = None) -> dict[str, Result]:
    """Claim the jobs, try each one's provider once, store what happened; the outcome of each
    job found (ids of no job are left out). `requests` names each job's request id for the logs;
    `copies`, how many more messages of the batch named the same job (they are skipped)."""
    requests, copies = requests or {}, copies or {}
    claims = deps.jobs.claim_many(job_ids, deps.instance, deps.settings.lease_ms)
    results: dict[str, Result] = {job_id: _skip(deps, job_id, doc, 1 + copies.get(job_id, 0))
                                  for job_id, doc in claims.busy.items()}
    for job_id in claims.claimed.keys() & copies.keys():
        deps.jobs.note(job_id, timeline.entry(Event.DUPLICATE_SKIPPED, {"reason": "same batch", "count": copies[job_id]}))
    attempts = _send_all(deps, list(claims.claimed.values()))
    outcomes = [_outcome(deps, job, result) for job, result in attempts]
    stored = _stored(deps, lambda: deps.jobs.finish_many(outcomes)) if outcomes else []
    retries: defaultdict[int, list[str]] = defaultdict(list)
    for outcome, kept in zip(outcomes, stored, strict=True):
        job = outcome.job
        fields = {"job_id": job.id, "type": job.type, "recipient": mask_recipient(job.recipient),
                  "attempt": job.attempts, "request_id": requests.get(job.id)}
        if not kept:
            results[job.id] = _lost_lease(deps, job, fields)
        elif outcome.target is Status.RETRYING:
            retries[outcome.entry["details"]["delayMs"]].append(job.id)
            RETRIES.labels(job.type).inc()
            log.info("retry scheduled", extra={**fields, **outcome.entry["details"]})
            results[job.id] = Outcome.RETRY_SCHEDULED
        elif outcome.target is Status.FAILED:
            log.warning("job failed", extra={**fields, "error": outcome.fields["lastError"],
                                             "permanent": outcome.entry["details"]["permanent"]})
            results[job.id] = Outcome.FAILED
        else:
            log.debug("job sent", extra=fields)
            results[job.id] = Outcome.SENT
    # Stored before published: if a publish fails its message is handled again later and the
    # claim takes the job from `retrying`, so the retry happens, only sooner.
    for delay_ms, ids in retries.items():
        try:
            deps.publisher.publish_jobs(ids, delay_ms=delay_ms, request_ids=requests)
        except WavecomError as e:
            results.update(dict.fromkeys(ids, e))
    if outcomes:
        log.info("batch delivered", extra=dict(Counter(str(r) for r in results.values() if isinstance(r, Outcome))))
    return results


_senders: ThreadPoolExecutor | None = None
_senders_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    """The process's threads for provider calls, made on first use."""
    global _senders
    with _senders_lock:
        if _senders is None:
            _senders = ThreadPoolExecutor(max_workers=size, thread_name_prefix="send")
        return _senders


def _send_all(deps: Deps, jobs: list[Job]) -> list[tuple[Job, Receipt | ProviderError]]:
    """Each job's provider tried once, concurrently."""
    if not jobs:
        return []
    pool = _pool(max(deps.settings.prefetch, 1))
    futures = [pool.submit(_send, deps, job) for job in jobs]
    return [(job, future.result()) for job, future in zip(jobs, futures, strict=True)]


def _send(deps: Deps, job: Job) -> Receipt | ProviderError:
    started = time.perf_counter()
    try:
        receipt = deps.providers[job.type].send(
            job_id=job.id, recipient=job.recipient, message=job.message, metadata=job.metadata, attempt=job.attempts
        )
    except ProviderError as e:
        _timed(job, started, "permanent" if isinstance(e, PermanentProviderError) else "transient")
        return e
    except Exception as e:  # a provider adapter broke its contract
        # Counted as a failed attempt, so the job's own budget bounds it and it ends `failed`
        # instead of sitting claimed; the message names only the exception's type.
        _timed(job, started, "error")
        log.exception("provider raised an unexpected error", extra={"job_id": job.id, "type": job.type})
        return TransientProviderError(f"unexpected provider error ({type(e).__name__})")
    _timed(job, started, "ok")
    return receipt


def _timed(job: Job, started: float, result: str) -> None:
    PROVIDER_LATENCY.labels(job.type, result).observe(time.perf_counter() - started)


def _outcome(deps: Deps, job: Job, result: Receipt | ProviderError) -> Stored:
    """What to store for one attempt: its status, its timeline entry and its fields."""
    if not isinstance(result, ProviderError):
        details = {"attempt": job.attempts, "provider": result.provider, "providerMessageId": result.message_id}
        return Stored(job, Status.SENT, timeline.entry(Event.SENT, details), {})
    reason = str(result)
    decision = deps.policy.decide(result, job.attempts, job.max_attempts)
    if decision.retry:
        retry_at = iso(now() + timedelta(milliseconds=decision.delay_ms))
        details = {"attempt": job.attempts, "error": reason, "delayMs": decision.delay_ms, "retryAt": retry_at}
        return Stored(job, Status.RETRYING, timeline.entry(Event.RETRY_SCHEDULED, details), {"lastError": reason})
    details = {"attempt": job.attempts, "error": reason, "permanent": isinstance(result, PermanentProviderError)}
    return Stored(job, Status.FAILED, timeline.entry(Event.FAILED, details), {"lastError": reason})


def _stored(deps: Deps, write: Callable[[], T]) -> T:
    """Run an outcome write, retrying a store outage for most of the lease.

    The provider has already acted: giving up at once would let the lease expire and the job
    be sent again. Past the lease the write is abandoned (the error propagates, the messages
    are handled again) and the sweeper's lease expiry takes over.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(StoreUnavailable),
        stop=stop_after_delay(deps.settings.lease_ms * 0.8 / 1000),
        wait=wait_exponential(multiplier=0.05, max=2),
        reraise=True,
    )
    return retrying(write)


def _skip(deps: Deps, job_id: str, doc: dict[str, Any], messages: int) -> Outcome:
    # Duplicate messages: the job is finished, or another worker holds it under a live lease
    # (requeueing would spin; if that worker dies, the sweeper takes the job back).
    status = Status(doc["status"])
    reason = "finished" if status in TERMINAL else "held by another worker"
    details = {"status": status.value, "reason": reason, "count": messages}
    deps.jobs.note(job_id, timeline.entry(Event.DUPLICATE_SKIPPED, details), doc)
    log.info("duplicate message skipped", extra={"job_id": job_id, "status": status.value})
    return Outcome.SKIPPED


def _lost_lease(deps: Deps, job: Job, fields: dict[str, Any]) -> Outcome:
    # The lease ran out while the provider was working and the job was taken back; whoever
    # holds it now decides its outcome. The timeline shows this attempt went out.
    deps.jobs.note(job.id, timeline.entry(Event.LEASE_EXPIRED, {"attempt": job.attempts, "worker": deps.instance,
                                                                 "late": True}))
    log.warning("outcome not stored: the lease had expired", extra=fields)
    return Outcome.LOST_LEASE


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
