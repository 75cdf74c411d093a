"""Accepting a job: store it, publish it, mark it queued."""

from __future__ import annotations

import dataclasses
import logging

from shared.bootstrap import Deps
from shared.errors import BrokerUnavailable
from shared.masking import mask_recipient
from shared.model import Job, NewJob
from shared.states import Event, Status
from shared.store import DEFAULT_TENANT

log = logging.getLogger("wavecom.intake")


def queue_job(deps: Deps, job_id: str) -> bool:
    """Publish a `pending` job (waiting for the confirm), then mark it `queued`.

    Returns False when the broker cannot take it; the job stays `pending` for the sweeper. The
    mark is conditional: a fast worker may already have claimed (even sent) the job, and that
    is never overwritten.
    """
    try:
        deps.publisher.publish_job(job_id)
    except BrokerUnavailable:
        return False
    if deps.jobs.move(job_id, Status.QUEUED, sources=[Status.PENDING]) is not None:
        deps.logs.add(job_id, Event.QUEUED, {"queue": deps.publisher.topology.queue})
    return True


def create_job(deps: Deps, new: NewJob, tenant: str = DEFAULT_TENANT) -> Job:
    """Store a job of `tenant` as `pending` and queue it; when the broker cannot take it yet,
    it is still accepted and stays `pending`."""
    job = deps.jobs.insert(new, deps.settings.max_attempts, tenant)
    masked = mask_recipient(job.recipient)
    deps.logs.add(job.id, Event.CREATED, {"type": job.type, "recipient": masked}, tenant)
    if not queue_job(deps, job.id):
        log.warning("job accepted but not queued yet", extra={"job_id": job.id, "recipient": masked})
        return job
    log.info("job accepted", extra={"job_id": job.id, "type": job.type, "recipient": masked})
    return dataclasses.replace(job, status=Status.QUEUED)
