"""What an operator does by hand: retry failed jobs, one or many, and cancel one that has not
been sent. Each records, in its timeline entry, the id of the API key that asked for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import timeline
from shared.bootstrap import Deps
from shared.errors import IllegalTransition
from shared.intake import queue_jobs
from shared.jobdocs import UNREDACTED
from shared.model import Job
from shared.querying import MAX_BULK_RETRY, RetryFilter, since_ms
from shared.states import CANCELLABLE, RETRYABLE, Event, Status

log = logging.getLogger("wavecom.manual")


def _by(key_id: str | None) -> dict[str, str]:
    """The details naming who asked."""
    return {"keyId": key_id} if key_id else {}


def retry_job(deps: Deps, job_id: str, tenant: str | None = None, key_id: str | None = None) -> Job:
    """Give a `failed` job a fresh attempt budget and queue it again; 409 otherwise (a redacted
    job too: its message is gone).

    `attempts` keeps counting and `maxAttempts` grows by the job's original budget, so the
    history is never rewritten.
    """
    current = deps.jobs.get(job_id, tenant)
    if current.redacted:  # nothing left to send
        raise IllegalTransition(f"{current.status.value} and redacted", "retried")
    budget = current.budget or deps.settings.max_attempts
    requested = timeline.entry(Event.RETRY_REQUESTED, {"maxAttempts": current.max_attempts + budget, **_by(key_id)})
    moved = deps.jobs.move(job_id, Status.PENDING, requested, sources=RETRYABLE, inc={"maxAttempts": budget},
                           tenant=tenant, where={"redacted": UNREDACTED})
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "retried")
    log.info("manual retry", extra={"job_id": job_id, "key_id": key_id})
    # If the broker is away the job stays `pending` and the sweeper queues it later.
    queue_jobs(deps, {job_id: moved.priority}, moved.tenant)
    return deps.jobs.get(job_id)


@dataclass(frozen=True)
class BulkRetry:
    """What a bulk retry answers: jobs that matched in all, and how many were queued again."""

    matched: int
    retried: int

    def to_json(self) -> dict[str, int]:
        """The API's answer."""
        return {"matched": self.matched, "retried": self.retried}


def retry_failed(deps: Deps, tenant: str, which: RetryFilter, key_id: str | None = None) -> BulkRetry:
    """Queue again up to MAX_BULK_RETRY of a tenant's failed jobs that match `which`, each as
    `retry_job` would; with `dryRun`, only count them."""
    if which.dryRun:
        found = deps.jobs.retry_failed(tenant, which.filters(), since_ms(which.since), 0, {})
        return BulkRetry(found.matched, 0)
    done = deps.jobs.retry_failed(tenant, which.filters(), since_ms(which.since), MAX_BULK_RETRY,
                                  {**_by(key_id), "bulk": True})
    log.info("bulk retry", extra={"matched": done.matched, "retried": done.moved, "key_id": key_id})
    if done.lanes:
        queue_jobs(deps, done.lanes, tenant)
    return BulkRetry(done.matched, done.moved)


def cancel_job(deps: Deps, job_id: str, tenant: str | None = None, key_id: str | None = None) -> Job:
    """Stop a job that is not being sent and not finished; 409 otherwise."""
    moved = deps.jobs.move(job_id, Status.CANCELLED, timeline.entry(Event.CANCELLED, _by(key_id)), tenant=tenant,
                           sources=CANCELLABLE)
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "cancelled")
    log.info("job cancelled", extra={"job_id": job_id, "key_id": key_id})
    return moved
