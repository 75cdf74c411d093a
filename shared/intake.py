"""Accepting a job: store it, publish it, mark it queued."""

from __future__ import annotations

import dataclasses
import logging

from shared.bootstrap import Deps
from shared.errors import BrokerUnavailable
from shared.groupcommit import Batcher
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


def create_jobs(deps: Deps, news: list[NewJob], tenant: str = DEFAULT_TENANT) -> list[Job]:
    """Store many jobs in one bulk write, publish them in one broker transaction, and mark them
    `queued` in one update; when the broker cannot take them they stay `pending`."""
    jobs = deps.jobs.insert_many(news, deps.settings.max_attempts, tenant)
    ids = [job.id for job in jobs]
    deps.logs.add_many([(job.id, Event.CREATED, {"type": job.type, "recipient": mask_recipient(job.recipient)})
                        for job in jobs], tenant)
    try:
        deps.publisher.publish_jobs(ids)
    except BrokerUnavailable:
        log.warning("batch accepted but not queued yet", extra={"jobs": len(jobs)})
        return jobs
    moved = deps.jobs.mark_queued(ids)
    deps.logs.add_many([(job_id, Event.QUEUED, {"queue": deps.publisher.topology.queue}) for job_id in moved], tenant)
    log.info("batch accepted", extra={"jobs": len(jobs)})
    return [dataclasses.replace(job, status=Status.QUEUED) for job in jobs]


def group_creates(deps: Deps) -> None:
    """Let concurrent single creates share one bulk write and one broker transaction (the API
    process); each caller still waits for its own job to be stored and published."""
    if deps.creates is None:
        deps.creates = Batcher(lambda items: _create_group(deps, items), name="creates")


def _create_group(deps: Deps, items: list[tuple[NewJob, str]]) -> list[Job]:
    by_tenant: dict[str, list[int]] = {}
    for index, (_, tenant) in enumerate(items):
        by_tenant.setdefault(tenant, []).append(index)
    jobs: list[Job | None] = [None] * len(items)
    for tenant, indexes in by_tenant.items():
        for index, job in zip(indexes, create_jobs(deps, [items[i][0] for i in indexes], tenant), strict=True):
            jobs[index] = job
    return [job for job in jobs if job is not None]


def create_job(deps: Deps, new: NewJob, tenant: str = DEFAULT_TENANT) -> Job:
    """Store a job of `tenant` as `pending` and queue it; when the broker cannot take it yet,
    it is still accepted and stays `pending`."""
    if deps.creates is not None:
        return deps.creates.submit((new, tenant))
    job = deps.jobs.insert(new, deps.settings.max_attempts, tenant)
    masked = mask_recipient(job.recipient)
    deps.logs.add(job.id, Event.CREATED, {"type": job.type, "recipient": masked}, tenant)
    if not queue_job(deps, job.id):
        log.warning("job accepted but not queued yet", extra={"job_id": job.id, "recipient": masked})
        return job
    log.info("job accepted", extra={"job_id": job.id, "type": job.type, "recipient": masked})
    return dataclasses.replace(job, status=Status.QUEUED)
