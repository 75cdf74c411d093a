"""What an operator does by hand: retry a failed job, cancel one that has not been sent."""

from __future__ import annotations

import logging

from shared import timeline
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
    budget = current.budget or deps.settings.max_attempts
    requested = timeline.entry(Event.RETRY_REQUESTED, {"maxAttempts": current.max_attempts + budget})
    moved = deps.jobs.move(job_id, Status.PENDING, requested, sources=[Status.FAILED], inc={"maxAttempts": budget},
                           tenant=tenant)
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "retried")
    log.info("manual retry", extra={"job_id": job_id})
    # If the broker is away the job stays `pending` and the sweeper queues it later.
    queue_jobs(deps, {job_id: moved.priority}, moved.tenant)
    return deps.jobs.get(job_id)


def cancel_job(deps: Deps, job_id: str, tenant: str | None = None) -> Job:
    """Stop a job that is not being sent and not finished; 409 otherwise."""
    moved = deps.jobs.move(job_id, Status.CANCELLED, timeline.entry(Event.CANCELLED), tenant=tenant,
                           sources=sources_of(Status.CANCELLED))
    if moved is None:
        raise IllegalTransition(deps.jobs.get(job_id).status.value, "cancelled")
    log.info("job cancelled", extra={"job_id": job_id})
    return moved
