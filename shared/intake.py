"""Accepting a job: store it, publish it, mark it queued."""

from __future__ import annotations

import dataclasses
import logging

from shared.bootstrap import Deps
from shared.errors import BrokerUnavailable
from shared.masking import mask_recipient
from shared.model import Job, NewJob
from shared.states import Event, Status

log = logging.getLogger("wavecom.intake")


def create_job(deps: Deps, new: NewJob) -> Job:
    """Store a job as `pending`, publish it with a confirm, then mark it `queued`.

    When the broker cannot take the message the job stays `pending` and is still accepted.
    """
    job = deps.jobs.insert(new, deps.settings.max_attempts)
    masked = mask_recipient(job.recipient)
    deps.logs.add(job.id, Event.CREATED, {"type": job.type, "recipient": masked})
    try:
        deps.publisher.publish_job(job.id)
    except BrokerUnavailable as e:
        log.warning("job accepted but not queued", extra={"job_id": job.id, "recipient": masked, "error": str(e)})
        return job
    # Conditional: a fast worker may already have claimed (even sent) the job; never overwrite that.
    queued = deps.jobs.move(job.id, Status.QUEUED)
    if queued is not None:
        deps.logs.add(job.id, Event.QUEUED, {"queue": deps.publisher.topology.queue})
    log.info("job accepted", extra={"job_id": job.id, "type": job.type, "recipient": masked})
    return queued or dataclasses.replace(job, status=Status.QUEUED)
