"""Delivering a job: claim it, call its provider, store the outcome."""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum

from shared.bootstrap import Deps
from shared.clock import iso, now
from shared.errors import PermanentProviderError, ProviderError, TransientProviderError
from shared.masking import mask_recipient
from shared.model import Job
from shared.states import Event, Status

log = logging.getLogger("wavecom.delivery")


class Outcome(StrEnum):
    """How one queue message for a job ended."""

    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    SKIPPED = "skipped"


def deliver(deps: Deps, job_id: str) -> Outcome:
    """Claim the job, try its provider once, and store what happened.

    Raises JobNotFound for a message about no job; the caller dead-letters it.
    """
    job = deps.jobs.move(job_id, Status.SENDING, inc={"attempts": 1})
    if job is None:
        current = deps.jobs.get(job_id)
        log.info("message skipped", extra={"job_id": job_id, "status": current.status.value})
        return Outcome.SKIPPED
    deps.logs.add(job_id, Event.SENDING, {"attempt": job.attempts})
    fields = {"job_id": job_id, "type": job.type, "recipient": mask_recipient(job.recipient), "attempt": job.attempts}
    try:
        receipt = deps.providers[job.type].send(
            job_id=job.id, recipient=job.recipient, message=job.message, metadata=job.metadata, attempt=job.attempts
        )
    except ProviderError as e:
        return _after_failure(deps, job, e, fields)
    except Exception as e:  # a provider adapter broke its contract
        # Counted as a failed attempt, so the job's own budget bounds it and it ends `failed`
        # instead of sitting claimed; the message names only the exception's type.
        log.exception("provider raised an unexpected error", extra=fields)
        return _after_failure(deps, job, TransientProviderError(f"unexpected provider error ({type(e).__name__})"), fields)
    deps.jobs.move(job_id, Status.SENT)
    deps.logs.add(
        job_id, Event.SENT, {"attempt": job.attempts, "provider": receipt.provider, "providerMessageId": receipt.message_id}
    )
    log.info("job sent", extra=fields)
    return Outcome.SENT


def _after_failure(deps: Deps, job: Job, error: ProviderError, fields: dict[str, object]) -> Outcome:
    decision = deps.policy.decide(error, job.attempts, job.max_attempts)
    reason = str(error)
    if decision.retry:
        retry_at = iso(now() + timedelta(milliseconds=decision.delay_ms))
        deps.jobs.move(job.id, Status.RETRYING, fields={"lastError": reason})
        deps.logs.add(
            job.id,
            Event.RETRY_SCHEDULED,
            {"attempt": job.attempts, "error": reason, "delayMs": decision.delay_ms, "retryAt": retry_at},
        )
        # Stored before published: if this publish fails the message is redelivered and the
        # claim takes the job from `retrying`, so the retry happens, only sooner.
        deps.publisher.publish_job(job.id, delay_ms=decision.delay_ms)
        log.info("retry scheduled", extra={**fields, "delay_ms": decision.delay_ms, "error": reason})
        return Outcome.RETRY_SCHEDULED
    deps.jobs.move(job.id, Status.FAILED, fields={"lastError": reason})
    permanent = isinstance(error, PermanentProviderError)
    deps.logs.add(job.id, Event.FAILED, {"attempt": job.attempts, "error": reason, "permanent": permanent})
    log.warning("job failed", extra={**fields, "error": reason, "permanent": permanent})
    return Outcome.FAILED
