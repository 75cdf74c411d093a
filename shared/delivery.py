"""Delivering a job: claim it under a lease, call its provider, store the outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from shared.bootstrap import Deps
from shared.clock import iso, now
from shared.errors import (
    PermanentProviderError,
    ProviderError,
    StoreUnavailable,
    TransientProviderError,
)
from shared.masking import mask_recipient
from shared.metrics import PROVIDER_LATENCY, RETRIES
from shared.model import Job
from shared.states import TERMINAL, Event, Status

log = logging.getLogger("wavecom.delivery")
T = TypeVar("T")
# Log writes that overlap a provider call: one per delivery in flight at most.
_BACKGROUND = ThreadPoolExecutor(max_workers=64, thread_name_prefix="log-write")


def _stored(deps: Deps, write: Callable[[], T]) -> T:
    """Run an outcome write, retrying a store outage for most of the lease.

    The provider has already acted: giving up at once would let the lease expire and the job
    be sent again. Past the lease the write is abandoned (the error propagates, the message
    is returned) and the sweeper's lease expiry takes over.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(StoreUnavailable),
        stop=stop_after_delay(deps.settings.lease_ms * 0.8 / 1000),
        wait=wait_exponential(multiplier=0.05, max=2),
        reraise=True,
    )
    return retrying(write)


class Outcome(StrEnum):
    """How one queue message for a job ended."""

    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    SKIPPED = "skipped"
    LOST_LEASE = "lost_lease"


def deliver(deps: Deps, job_id: str) -> Outcome:
    """Claim the job, try its provider once, and store what happened.

    Raises JobNotFound for a message about no job; the caller dead-letters it.
    """
    job = deps.jobs.claim(job_id, deps.instance, deps.settings.lease_ms)
    if job is None:
        return _not_claimed(deps, job_id)
    # The `sending` entry is written while the provider works; the outcome is stored only after
    # it, so the timeline stays in order and nothing is acked before both are stored.
    logged = _BACKGROUND.submit(deps.logs.add, job_id, Event.SENDING, {"attempt": job.attempts, "worker": deps.instance})
    try:
        return _attempt(deps, job, logged)
    finally:
        logged.result()


def _attempt(deps: Deps, job: Job, logged: Future[None]) -> Outcome:
    fields = {"job_id": job.id, "type": job.type, "recipient": mask_recipient(job.recipient), "attempt": job.attempts}
    started = time.perf_counter()
    try:
        receipt = deps.providers[job.type].send(
            job_id=job.id, recipient=job.recipient, message=job.message, metadata=job.metadata, attempt=job.attempts
        )
    except ProviderError as e:
        _timed(job, started, "permanent" if isinstance(e, PermanentProviderError) else "transient")
        logged.result()
        return _after_failure(deps, job, e, fields)
    except Exception as e:
        # A provider adapter broke its contract. Counted as a failed attempt, so the job's own
        # budget bounds it and it ends `failed` instead of sitting claimed; the message names
        # only the exception's type.
        _timed(job, started, "error")
        log.exception("provider raised an unexpected error", extra=fields)
        logged.result()
        return _after_failure(deps, job, TransientProviderError(f"unexpected provider error ({type(e).__name__})"), fields)
    _timed(job, started, "ok")
    logged.result()
    owner = job.lease_owner or deps.instance
    if not _stored(deps, lambda: deps.jobs.finish(job.id, owner, Status.SENT)):
        return _lost_lease(deps, job, fields)
    details = {"attempt": job.attempts, "provider": receipt.provider, "providerMessageId": receipt.message_id}
    _stored(deps, lambda: deps.logs.add(job.id, Event.SENT, details, job.tenant))
    log.info("job sent", extra=fields)
    return Outcome.SENT


def _timed(job: Job, started: float, result: str) -> None:
    PROVIDER_LATENCY.labels(job.type, result).observe(time.perf_counter() - started)


def _not_claimed(deps: Deps, job_id: str) -> Outcome:
    # A duplicate message: the job is finished, or another worker holds it under a live lease
    # (requeueing would spin; if that worker dies, the sweeper takes the job back).
    current = deps.jobs.get(job_id)
    reason = "finished" if current.status in TERMINAL else "held by another worker"
    deps.logs.add(job_id, Event.DUPLICATE_SKIPPED, {"status": current.status.value, "reason": reason})
    log.info("duplicate message skipped", extra={"job_id": job_id, "status": current.status.value})
    return Outcome.SKIPPED


def _lost_lease(deps: Deps, job: Job, fields: dict[str, Any]) -> Outcome:
    # The lease ran out while the provider was working and the job was taken back; whoever
    # holds it now decides its outcome. The log shows this attempt went out.
    deps.logs.add(job.id, Event.LEASE_EXPIRED, {"attempt": job.attempts, "worker": deps.instance, "late": True})
    log.warning("outcome not stored: the lease had expired", extra=fields)
    return Outcome.LOST_LEASE


def _after_failure(deps: Deps, job: Job, error: ProviderError, fields: dict[str, Any]) -> Outcome:
    decision = deps.policy.decide(error, job.attempts, job.max_attempts)
    reason = str(error)
    owner = job.lease_owner or deps.instance
    if decision.retry:
        if not _stored(deps, lambda: deps.jobs.finish(job.id, owner, Status.RETRYING, {"lastError": reason})):
            return _lost_lease(deps, job, fields)
        retry_at = iso(now() + timedelta(milliseconds=decision.delay_ms))
        deps.logs.add(
            job.id,
            Event.RETRY_SCHEDULED,
            {"attempt": job.attempts, "error": reason, "delayMs": decision.delay_ms, "retryAt": retry_at},
        )
        # Stored before published: if this publish fails the message is redelivered and the
        # claim takes the job from `retrying`, so the retry happens, only sooner.
        deps.publisher.publish_job(job.id, delay_ms=decision.delay_ms)
        RETRIES.labels(job.type).inc()
        log.info("retry scheduled", extra={**fields, "delay_ms": decision.delay_ms, "error": reason})
        return Outcome.RETRY_SCHEDULED
    if not _stored(deps, lambda: deps.jobs.finish(job.id, owner, Status.FAILED, {"lastError": reason})):
        return _lost_lease(deps, job, fields)
    permanent = isinstance(error, PermanentProviderError)
    deps.logs.add(job.id, Event.FAILED, {"attempt": job.attempts, "error": reason, "permanent": permanent})
    log.warning("job failed", extra={**fields, "error": reason, "permanent": permanent})
    return Outcome.FAILED
