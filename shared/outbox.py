"""The outbox sweeper: publishes jobs the API stored but could not queue, and takes back jobs
whose sender's lease expired. Several sweepers may run at once: each job is taken by exactly
one of them through a compare-and-set on its `updatedAt`."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from shared.bootstrap import Deps
from shared.clock import epoch_ms, now
from shared.errors import BrokerUnavailable, StoreUnavailable
from shared.intake import queue_jobs
from shared.states import Event, Status

log = logging.getLogger("wavecom.sweeper")
BATCH = 500


@dataclass
class SweepResult:
    """What one sweep did."""

    published: int = 0
    lease_expired: int = 0
    republished: int = 0


def reclaim_expired(deps: Deps, result: SweepResult) -> None:
    """Put jobs whose lease ran out back to `pending`, or fail them if no attempt remains."""
    for job_id in deps.jobs.expired_leases(BATCH):
        job = deps.jobs.get(job_id)
        # Checked again inside the update: another sweeper, or the late worker, may be first.
        still_expired = {"leaseUntilMs": {"$lt": epoch_ms()}}
        if job.attempts >= job.max_attempts:
            error = "the worker was lost during the last attempt"
            moved = deps.jobs.move(job_id, Status.FAILED, sources=[Status.SENDING], where=still_expired,
                                   fields={"lastError": error}, unset=("leaseOwner", "leaseUntilMs"))
            event, details = Event.FAILED, {"attempt": job.attempts, "error": error, "permanent": False}
        else:
            moved = deps.jobs.move(job_id, Status.PENDING, sources=[Status.SENDING], where=still_expired,
                                   unset=("leaseOwner", "leaseUntilMs"))
            event, details = Event.LEASE_EXPIRED, {"attempt": job.attempts}
        if moved is None:
            continue
        deps.logs.add(job_id, event, details)
        log.warning("lease expired; job taken back", extra={"job_id": job_id, "status": moved.status.value})
        result.lease_expired += 1
        if moved.status is Status.PENDING:
            result.published += queue_jobs(deps, [job_id], moved.tenant)


def sweep(deps: Deps, *, lost: bool = True) -> SweepResult:
    """One pass: expired leases first, then jobs left `pending` longer than the grace period,
    then (when `lost`) jobs whose message seems lost."""
    result = SweepResult()
    reclaim_expired(deps, result)
    cutoff = now() - timedelta(milliseconds=deps.settings.outbox_grace_ms)
    for job_id in deps.jobs.stale(Status.PENDING, cutoff, BATCH):
        if not deps.jobs.touch_if_stale(job_id, Status.PENDING, cutoff):
            continue  # another sweeper took it
        if not queue_jobs(deps, [job_id]):
            break  # the broker is still away; the next sweep tries again
        result.published += 1
    if lost:
        republish_lost(deps, result)
    if result.published or result.lease_expired or result.republished:
        log.info("sweep", extra={"published": result.published, "lease_expired": result.lease_expired,
                                 "republished": result.republished})
    return result


def republish_lost(deps: Deps, result: SweepResult) -> None:
    """Publish again the jobs left `queued` or `retrying` far longer than any queue or retry
    delay: their message was lost (dead-lettered by the broker, say). A spare message is
    harmless; the claim lets only one delivery happen."""
    cutoff = now() - timedelta(milliseconds=deps.settings.requeue_after_ms)
    for status in (Status.QUEUED, Status.RETRYING):
        for job_id in deps.jobs.stale(status, cutoff, BATCH):
            if not deps.jobs.touch_if_stale(job_id, status, cutoff):
                continue  # another sweeper took it, or the job moved on
            deps.publisher.publish_job(job_id)
            deps.logs.add(job_id, Event.QUEUED, {"queue": deps.publisher.topology.queue, "republished": True})
            log.warning("message presumed lost; job published again", extra={"job_id": job_id, "status": status.value})
            result.republished += 1


class Sweeper:
    """Runs `sweep` every WAVECOM_SWEEP_INTERVAL_MS until stopped."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._stopping = threading.Event()

    def run(self) -> None:
        """Sweep until `stop()`; store and broker outages only delay the next sweep."""
        interval = self.deps.settings.sweep_interval_ms / 1000
        # Lost messages are looked for far less often: their threshold is minutes, and the
        # scan covers every queued job.
        lost_every = max(1, int(self.deps.settings.requeue_after_ms / 10 / self.deps.settings.sweep_interval_ms))
        passes = 0
        while not self._stopping.wait(interval):
            passes += 1
            try:
                sweep(self.deps, lost=passes % lost_every == 0)
            except (StoreUnavailable, BrokerUnavailable) as e:
                log.warning("sweep skipped", extra={"error": str(e)})

    def stop(self) -> None:
        """Ask the loop to finish."""
        self._stopping.set()
