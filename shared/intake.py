"""Accepting a job: store it, publish it, mark it queued."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from shared.bootstrap import Deps
from shared.errors import BrokerUnavailable
from shared.groupcommit import Batcher
from shared.jobdocs import DEFAULT_TENANT
from shared.model import Job, NewJob, Priority
from shared.states import Status

log = logging.getLogger("wavecom.intake")


def queue_jobs(deps: Deps, lanes: Mapping[str, Priority], tenant: str, source: Status = Status.PENDING) -> bool:
    """Publish jobs of `tenant` waiting in `source` (`pending`, or `scheduled` once due), each in
    its lane (`lanes`: job id -> priority), in one broker transaction, then mark them `queued` in
    one update.

    Returns False when the broker cannot take them; they stay as they are for the sweeper. The
    mark is conditional: a fast worker may already have claimed (even sent) a job, and that is
    never overwritten.
    """
    job_ids = list(lanes)
    try:
        deps.publisher.publish_jobs(job_ids, lanes=lanes)
    except BrokerUnavailable:
        return False
    topology = deps.publisher.topology
    for lane in set(lanes.values()):
        ids = [j for j in job_ids if lanes[j] is lane]
        deps.jobs.mark_queued(ids, tenant, {"queue": topology.lane(lane)}, source)
    return True


def create_jobs(deps: Deps, news: list[NewJob], tenant: str = DEFAULT_TENANT) -> list[Job]:
    """Store jobs in one bulk write and queue those to be sent now; when the broker cannot take
    them yet they are still accepted and stay `pending`. Jobs to be sent later stay `scheduled`
    until the sweeper releases them."""
    attempts = {channel: deps.settings.max_attempts_of(channel) for channel in {new.type for new in news}}
    jobs = deps.jobs.insert_many(news, attempts, tenant)
    now = [job for job in jobs if job.status is Status.PENDING]
    if now and queue_jobs(deps, {job.id: job.priority for job in now}, tenant):
        jobs = [dataclasses.replace(job, status=Status.QUEUED) if job.status is Status.PENDING else job for job in jobs]
    else:
        for job in now:
            log.warning("job accepted but not queued yet", extra=job.log_fields())
    if len(jobs) == 1:
        log.info("job accepted", extra={**jobs[0].log_fields(), "status": jobs[0].status.value})
    else:  # one line for a batch: a line per job would cost more than storing it
        log.info("jobs accepted", extra={"jobs": len(jobs), "first_job_id": jobs[0].id, "last_job_id": jobs[-1].id})
    return jobs


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
    return create_jobs(deps, [new], tenant)[0]
