"""Delivering jobs: claim them under a lease, call their providers, store what happened.

One implementation for every entry point: the local consumer and the dispatch Lambda both hand
it the jobs of a batch of queue messages (shared.messages). A batch costs the store one read and
one bulk write to claim its jobs and one bulk write to store their outcomes, whatever its size;
provider calls run concurrently in between.

Each attempt goes to the provider chosen when its job is claimed (shared.providers.routing: the
first of its channel's providers whose breaker admits it), after a token of that provider's
rate was taken: jobs whose provider has no token left this second are claimed in a later round,
as tokens come, so no lease is spent waiting for one.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from prometheus_client import Histogram
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from shared import timeline
from shared.bootstrap import Deps
from shared.clock import epoch_ms_of, iso, now
from shared.deadlines import retry_too_late
from shared.errors import (
    PermanentProviderError,
    ProviderError,
    StoreUnavailable,
    TransientProviderError,
    WavecomError,
)
from shared.jobwrites import expired_entry
from shared.metrics import PROVIDER_LATENCY, RETRIES
from shared.model import Job, Priority
from shared.providers import Provider, Receipt
from shared.receipts import apply_ses
from shared.states import TERMINAL, Event, Status
from shared.store import Outcome as Stored

log = logging.getLogger("wavecom.delivery")
T = TypeVar("T")


class Outcome(StrEnum):
    """How one queue message for a job ended."""

    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    LOST_LEASE = "lost_lease"


Result = Outcome | BaseException  # an outcome, or the error that ended a job's handling


TOKEN_WAIT_S = 1.0  # how long a round waits for a provider's token before looking again


def deliver(deps: Deps, job_ids: list[str], requests: Mapping[str, str | None] | None = None,
            copies: Mapping[str, int] | None = None) -> dict[str, Result]:
    """Claim the jobs, try each one's provider once, store what happened; the outcome of each
    job found (ids of no job are left out). `requests` names each job's request id for the logs;
    `copies`, how many more messages of the batch named the same job (they are skipped). Jobs
    whose provider is out of tokens are delivered in later rounds, as tokens come."""
    requests, copies = requests or {}, copies or {}
    tokens = _Tokens(deps)
    results: dict[str, Result] = {}
    wanted = list(job_ids)
    while wanted:
        claims = deps.jobs.claim_many(wanted, deps.instance, deps.settings.lease_ms, route=tokens.route)
        results.update({job_id: _skip(deps, job_id, doc, 1 + copies.get(job_id, 0))
                        for job_id, doc in claims.busy.items()})
        results.update(dict.fromkeys(claims.expired, Outcome.EXPIRED))
        results.update(dict.fromkeys(claims.suppressed, Outcome.FAILED))
        if claims.suppressed:
            log.info("jobs to suppressed recipients failed without a provider call",
                     extra={"jobs": len(claims.suppressed), "first_job_id": min(claims.suppressed)})
        for job_id in claims.claimed.keys() & copies.keys():
            deps.jobs.note(job_id, timeline.entry(Event.DUPLICATE_SKIPPED, {"reason": "same batch",
                                                                            "count": copies[job_id]}))
        results.update(_attempt(deps, list(claims.claimed.values()), requests))
        wanted = claims.deferred
        if wanted:
            tokens.wait(wanted[0])
    if results:
        log.info("batch delivered", extra=dict(Counter(str(r) for r in results.values() if isinstance(r, Outcome))))
    return results


class _Tokens:
    """The provider tokens of one delivery: each claim routes a job to its provider and spends a
    token of that provider's rate, or leaves the job for a later round; a token waited for between
    rounds is kept for the next job of that provider."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.held: Counter[str] = Counter()
        self.waiting: dict[str, str] = {}  # job id -> the provider it was left waiting for

    def route(self, job_id: str, channel: str) -> str | None:
        """The provider of a job's attempt, with a token spent; None when it has none now."""
        provider = self.deps.routing.choose(channel, self.deps.providers[channel]).name
        if self.held[provider]:
            self.held[provider] -= 1
            return provider
        if self.deps.routing.take_token(provider):
            return provider
        self.waiting[job_id] = provider
        return None

    def wait(self, job_id: str) -> None:
        """Wait for a token of the provider a job was left waiting for (as long as it takes, a
        second at a time), and keep it for the next round."""
        provider = self.waiting[job_id]
        while not self.deps.routing.wait_token(provider, TOKEN_WAIT_S):
            pass
        self.held[provider] += 1


def _attempt(deps: Deps, jobs: list[Job], requests: Mapping[str, str | None]) -> dict[str, Result]:
    """Send the claimed jobs, store their outcomes, publish their retries."""
    results: dict[str, Result] = {}
    attempts = _send_all(deps, jobs)
    outcomes = [_outcome(deps, job, result) for job, result in attempts]
    stored = _stored(deps, lambda: deps.jobs.finish_many(outcomes)) if outcomes else []
    retries: defaultdict[tuple[int, Priority], list[str]] = defaultdict(list)
    debug = log.isEnabledFor(logging.DEBUG)
    for outcome, kept, (_, sent) in zip(outcomes, stored, attempts, strict=True):
        job = outcome.job
        if kept and isinstance(sent, Receipt) and sent.feedback:
            _feedback(deps, job, sent.feedback)
        if not kept:
            results[job.id] = _lost_lease(deps, job, _fields(job, requests))
        elif outcome.target is Status.RETRYING:
            retries[(outcome.entry["details"]["delayMs"], job.priority)].append(job.id)
            RETRIES.labels(job.type).inc()
            log.info("retry scheduled", extra={**_fields(job, requests), **outcome.entry["details"]})
            results[job.id] = Outcome.RETRY_SCHEDULED
        elif outcome.target is Status.FAILED:
            log.warning("job failed", extra={**_fields(job, requests), "error": outcome.fields["lastError"],
                                             "permanent": outcome.entry["details"]["permanent"]})
            results[job.id] = Outcome.FAILED
        elif outcome.target is Status.EXPIRED:
            log.info("job expired: its retry would start after expiresAt", extra=_fields(job, requests))
            results[job.id] = Outcome.EXPIRED
        else:
            if debug:  # a line per sent job would cost more than sending it
                log.debug("job sent", extra=_fields(job, requests))
            results[job.id] = Outcome.SENT
    # Stored before published: if a publish fails its message is handled again later and the
    # claim takes the job from `retrying`, so the retry happens, only sooner. A retry goes back
    # to its own lane, through that lane's delay queue.
    for (delay_ms, lane), ids in retries.items():
        try:
            deps.publisher.publish_jobs(ids, lanes=dict.fromkeys(ids, lane), delay_ms=delay_ms, request_ids=requests)
        except WavecomError as e:
            results.update(dict.fromkeys(ids, e))
    return results


def _feedback(deps: Deps, job: Job, notification: str) -> None:
    """Handle what the mock email provider reported about a message it sent, as a receipt."""
    try:
        apply_ses(deps, notification)
    except WavecomError as e:
        log.warning("receipt not recorded", extra={"job_id": job.id, "error": str(e)})


def _fields(job: Job, requests: Mapping[str, str | None]) -> dict[str, Any]:
    """A job's fields in a log line: id, channel, masked recipient, attempt, provider, request id."""
    return {**job.log_fields(), "attempt": job.attempts, "provider": job.provider, "request_id": requests.get(job.id)}


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
    pool = _pool(max(deps.settings.total_prefetch, 1))
    futures = [pool.submit(_send, deps, job) for job in jobs]
    return [(job, future.result()) for job, future in zip(jobs, futures, strict=True)]


def _provider(deps: Deps, job: Job) -> Provider:
    """The provider the claim chose for this attempt (the first of its channel's, with none)."""
    chain = deps.providers[job.type]
    return next((p for p in chain if p.name == job.provider), chain[0])


def _send(deps: Deps, job: Job) -> Receipt | ProviderError:
    started = time.perf_counter()
    provider = _provider(deps, job)
    try:
        receipt = provider.send(
            job_id=job.id, recipient=job.recipient, message=job.message or "", metadata=job.metadata, attempt=job.attempts
        )
    except ProviderError as e:
        permanent = isinstance(e, PermanentProviderError)
        _timed(job, provider, started, "permanent" if permanent else "transient")
        deps.routing.record(job.type, provider.name, ok=permanent)  # a refusal is an answer, not an outage
        return e
    except Exception as e:  # a provider adapter broke its contract
        # Counted as a failed attempt, so the job's own budget bounds it and it ends `failed`
        # instead of sitting claimed; the message names only the exception's type.
        _timed(job, provider, started, "error")
        deps.routing.record(job.type, provider.name, ok=False)
        log.exception("provider raised an unexpected error", extra={"job_id": job.id, "type": job.type,
                                                                     "provider": provider.name})
        return TransientProviderError(f"unexpected provider error ({type(e).__name__})")
    _timed(job, provider, started, "ok")
    deps.routing.record(job.type, provider.name, ok=True)
    return receipt


def _timed(job: Job, provider: Provider, started: float, result: str) -> None:
    _latency(job.type, provider.name, result).observe(time.perf_counter() - started)


@functools.cache
def _latency(channel: str, provider: str, result: str) -> Histogram:
    """The latency histogram of one channel, provider and result (looked up once, not per send)."""
    return PROVIDER_LATENCY.labels(channel, provider, result)


def _outcome(deps: Deps, job: Job, result: Receipt | ProviderError) -> Stored:
    """What to store for one attempt: its status, its timeline entry and its fields. A retry that
    could start only after the job expires ends it `expired` now instead."""
    provider = _provider(deps, job).name
    if not isinstance(result, ProviderError):
        details = {"attempt": job.attempts, "provider": provider, "providerMessageId": result.message_id}
        # Kept on the job too, where a receipt (shared.receipts) finds it by its index.
        return Stored(job, Status.SENT, timeline.entry(Event.SENT, details), {"providerMessageId": result.message_id})
    reason = str(result)
    decision = deps.policy.decide(result, job.attempts, job.max_attempts)
    if decision.retry:
        retry_at = now() + timedelta(milliseconds=decision.delay_ms)
        if retry_too_late(job.expires_at_ms, epoch_ms_of(retry_at)):
            details = {"attempt": job.attempts, "provider": provider, "error": reason,
                       "reason": "its retry would start after expiresAt"}
            return Stored(job, Status.EXPIRED, expired_entry({"expiresAt": job.expires_at}, **details),
                          {"lastError": reason})
        details = {"attempt": job.attempts, "provider": provider, "error": reason, "delayMs": decision.delay_ms,
                   "retryAt": iso(retry_at)}
        return Stored(job, Status.RETRYING, timeline.entry(Event.RETRY_SCHEDULED, details), {"lastError": reason})
    details = {"attempt": job.attempts, "provider": provider, "error": reason,
               "permanent": isinstance(result, PermanentProviderError)}
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

