"""What an operator does by hand: retry a failed job, cancel one that has not been sent."""

from __future__ import annotations

import logging

from shared.bootstrap import Deps
from shared.errors import IllegalTransition
from shared.intake import queue_jobs
from shared.model import Job
from shared.states import Event, Status, sources_of

log = logging.getLogger("wavecom.manual")


def retry_job(deps: Deps, job_id: str, tenant: str | None = None) -> Job:
    """Give a `failed` job a fresh attempt budget and queue it again; 409 otherwise.

    `attempts` keeps counting and `maxAttempts` grows by the job's original budget, so the
    history is never rewritten.
    """
    current = deps.jobs.get(job_id, tenant)
    moved = deps.jobs.move(
        job_id, Status.PENDING, sources=[Status.FAILED], inc={"maxAttempts": current.budget or deps.settings.max_attempts}
    )
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "retried")
    deps.logs.add(job_id, Event.RETRY_REQUESTED, {"maxAttempts": moved.max_attempts})
    log.info("manual retry", extra={"job_id": job_id})
    # If the broker is away the job stays `pending` and the sweeper queues it later.
    queue_jobs(deps, [job_id], current.tenant)
    return deps.jobs.get(job_id)


def cancel_job(deps: Deps, job_id: str, tenant: str | None = None) -> Job:
    """Stop a job that is not being sent and not finished; 409 otherwise."""
    deps.jobs.get(job_id, tenant)  # another tenant's job is not found
    moved = deps.jobs.move(job_id, Status.CANCELLED, sources=sources_of(Status.CANCELLED))
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "cancelled")
    deps.logs.add(job_id, Event.CANCELLED, {})
    log.info("job cancelled", extra={"job_id": job_id})
    return moved
