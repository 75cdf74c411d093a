"""The outbox sweeper: publishes jobs the API stored but could not queue, takes back jobs whose
sender's lease expired, ends `expired` the waiting jobs whose time is up, releases scheduled jobs
once due, and keeps the counters true. Several sweepers may run at once: each job is taken by
exactly one of them through a compare-and-set (on its `updatedAt`, or on its status and
attempts), due jobs are released by one sweeper a sweep interval (a turn, taken by a
compare-and-set), and a counter is corrected only through a compare-and-set on its version."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from shared import timeline
from shared.bootstrap import Deps
from shared.clock import epoch_ms, now
from shared.errors import BrokerUnavailable, StoreUnavailable
from shared.hookmarks import events_message
from shared.intake import queue_jobs
from shared.lifecycle import lifecycle_sweep
from shared.model import Priority
from shared.states import WAITING, Event, Status

log = logging.getLogger("wavecom.sweeper")
BATCH = 500
SERIES_KEPT_S = 3600  # the longest window /api/stats shows


@dataclass
class SweepResult:
    """What one sweep did."""

    published: int = 0
    lease_expired: int = 0
    republished: int = 0
    expired: int = 0  # waiting jobs whose time was up
    released: int = 0  # scheduled jobs queued once due
    webhooks: int = 0  # webhook events published again (their first publish was lost)
    reconciled: int = 0  # tenants whose counters were corrected


def reclaim_expired(deps: Deps, result: SweepResult) -> None:
    """Put jobs whose lease ran out back to `pending`, or fail them if no attempt remains."""
    for job_id in deps.jobs.expired_leases(BATCH):
        job = deps.jobs.get(job_id)
        # Checked again inside the update: another sweeper, or the late worker, may be first.
        still_expired = {"leaseUntilMs": {"$lt": epoch_ms()}}
        lease = ("leaseOwner", "leaseUntilMs")
        if job.attempts >= job.max_attempts:
            error = "the worker was lost during the last attempt"
            failed = timeline.entry(Event.FAILED, {"attempt": job.attempts, "error": error, "permanent": False})
            moved = deps.jobs.move(job_id, Status.FAILED, failed, sources=[Status.SENDING], where=still_expired,
                                   fields={"lastError": error}, unset=lease)
        else:
            expired = timeline.entry(Event.LEASE_EXPIRED, {"attempt": job.attempts})
            moved = deps.jobs.move(job_id, Status.PENDING, expired, sources=[Status.SENDING], where=still_expired,
                                   unset=lease)
        if moved is None:
            continue
        log.warning("lease expired; job taken back", extra={"job_id": job_id, "status": moved.status.value})
        result.lease_expired += 1
        if moved.status is Status.PENDING:
            result.published += queue_jobs(deps, {job_id: moved.priority}, moved.tenant)


def expire_waiting(deps: Deps, result: SweepResult) -> None:
    """End `expired` the jobs waiting for an attempt whose `expiresAt` has passed, wherever
    their message is (in a lane, in a delay queue, or not yet published): the claim would find
    them expired anyway, but a message in a delay queue may come back long after."""
    for status in sorted(WAITING):
        expired = deps.jobs.expire_due(status, BATCH)
        if expired:
            log.info("jobs expired", extra={"status": status.value, "jobs": len(expired), "first_job_id": expired[0]})
        result.expired += len(expired)


def release_due(deps: Deps, result: SweepResult) -> None:
    """Queue the scheduled jobs whose `sendAt` has come, each in its lane: published, then marked
    `queued` (a worker faster than the mark may claim a due scheduled job). One sweeper does it per
    sweep interval, so several running at once publish a job once; with nothing due it costs one
    read that finds nothing."""
    due = deps.jobs.due(BATCH)
    if not due or not deps.turns.take("release-scheduled", deps.settings.sweep_interval_ms):
        return
    by_tenant: dict[str, dict[str, Priority]] = {}
    for job_id, tenant, priority in due:
        by_tenant.setdefault(tenant, {})[job_id] = priority
    for tenant, lanes in by_tenant.items():
        if not queue_jobs(deps, lanes, tenant, source=Status.SCHEDULED):
            break  # the broker is away: they stay scheduled, and due, for the next sweep
        result.released += len(lanes)


def publish_left_webhooks(deps: Deps, result: SweepResult) -> None:
    """Publish again the webhook events whose marker is older than WAVECOM_REQUEUE_AFTER_MS (their
    publish failed, or their message was lost): far longer than a backlog of webhooks takes, so
    a marker still queued is not published twice. Each job is taken by one sweeper through a
    compare-and-set on the marker's time; a job whose markers are all pulled loses its time.
    A spare message is harmless: receivers deduplicate on `webhook-id`."""
    cutoff = epoch_ms() - deps.settings.requeue_after_ms
    for job_id, marks, at_ms in deps.jobs.left_marks(cutoff, BATCH):
        if not deps.jobs.retouch_marks(job_id, at_ms, keep=bool(marks)) or not marks:
            continue
        deps.publisher.publish_webhooks([events_message([(job_id, mark) for mark in marks])])
        result.webhooks += len(marks)


def sweep(deps: Deps, *, lost: bool = True) -> SweepResult:
    """One pass: expired leases first, then waiting jobs whose time is up, scheduled jobs now due,
    jobs left `pending` longer than the grace period, then (when `lost`) jobs whose message seems
    lost."""
    result = SweepResult()
    reclaim_expired(deps, result)
    expire_waiting(deps, result)
    release_due(deps, result)
    publish_left_webhooks(deps, result)
    cutoff = now() - timedelta(milliseconds=deps.settings.outbox_grace_ms)
    for job_id, tenant, priority in deps.jobs.stale(Status.PENDING, cutoff, BATCH):
        if not deps.jobs.touch_if_stale(job_id, Status.PENDING, cutoff):
            continue  # another sweeper took it
        if not queue_jobs(deps, {job_id: priority}, tenant):
            break  # the broker is still away; the next sweep tries again
        result.published += 1
    if lost:
        republish_lost(deps, result)
    if result.published or result.lease_expired or result.republished or result.expired or result.released \
            or result.webhooks:
        log.info("sweep", extra={"published": result.published, "lease_expired": result.lease_expired,
                                 "republished": result.republished, "expired": result.expired,
                                 "released": result.released, "webhooks": result.webhooks})
    return result


def republish_lost(deps: Deps, result: SweepResult) -> None:
    """Publish again the jobs left `queued`, or `retrying`, far longer than any queue or retry
    delay: their message was lost (dead-lettered by the broker, say). A retrying job is given its
    longest possible delay on top, so a message still waiting in a delay queue is never taken for
    lost. A spare message is harmless; the claim lets only one delivery happen."""
    for status, extra_ms in ((Status.QUEUED, 0), (Status.RETRYING, deps.policy.longest_ms)):
        cutoff = now() - timedelta(milliseconds=deps.settings.requeue_after_ms + extra_ms)
        for job_id, _, priority in deps.jobs.stale(status, cutoff, BATCH):
            if not deps.jobs.touch_if_stale(job_id, status, cutoff):
                continue  # another sweeper took it, or the job moved on
            deps.publisher.publish_jobs([job_id], lanes={job_id: priority})
            deps.jobs.note(job_id, timeline.entry(Event.QUEUED, {"queue": deps.publisher.topology.lane(priority),
                                                                 "republished": True}))
            log.warning("message presumed lost; job published again", extra={"job_id": job_id, "status": status.value})
            result.republished += 1


def reconcile_counters(deps: Deps, result: SweepResult, settle_s: float = 1.0) -> None:
    """Recount each tenant's jobs per status and correct its counters where they drifted (a
    process lost between a job write and its counter write), and drop per-second counts older
    than any window the stats show. However many sweepers run, each tenant is recounted once
    per WAVECOM_RECONCILE_INTERVAL_MS."""
    counters = deps.jobs.counters
    for tenant in counters.tenants():
        if not counters.take_turn(tenant, deps.settings.reconcile_interval_ms, epoch_ms()):
            continue  # another sweeper recounted it lately
        corrections = counters.reconcile(tenant, deps.jobs.count_by_status, settle_s=settle_s)
        if corrections:
            result.reconciled += 1
            log.warning("counters corrected", extra={"tenant": tenant, "corrections": corrections})
        elif corrections is None:
            log.info("counters busy; reconciled on a later sweep", extra={"tenant": tenant})
    counters.prune(int(time.time()) - SERIES_KEPT_S)


class Sweeper:
    """Runs `sweep` every WAVECOM_SWEEP_INTERVAL_MS, `reconcile_counters` every
    WAVECOM_RECONCILE_INTERVAL_MS and the personal-data lifecycle (shared.lifecycle) every
    WAVECOM_LIFECYCLE_INTERVAL_MS, until stopped."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._stopping = threading.Event()

    def run(self) -> None:
        """Sweep until `stop()`; store and broker outages only delay the next sweep."""
        settings = self.deps.settings
        interval = settings.sweep_interval_ms / 1000
        # Lost messages are looked for far less often: their threshold is minutes, and the
        # scan covers every queued job.
        lost_every = max(1, int(settings.requeue_after_ms / 10 / settings.sweep_interval_ms))
        reconcile_every = max(1, int(settings.reconcile_interval_ms / settings.sweep_interval_ms))
        lifecycle_every = max(1, int(settings.lifecycle_interval_ms / settings.sweep_interval_ms))
        passes = 0
        while not self._stopping.wait(interval):
            passes += 1
            try:
                result = sweep(self.deps, lost=passes % lost_every == 0)
                if passes % reconcile_every == 0:
                    reconcile_counters(self.deps, result)
                if passes % lifecycle_every == 0 and self.deps.turns.take("lifecycle", settings.lifecycle_interval_ms):
                    lifecycle_sweep(self.deps)
            except (StoreUnavailable, BrokerUnavailable) as e:
                log.warning("sweep skipped", extra={"error": str(e)})

    def stop(self) -> None:
        """Ask the loop to finish."""
        self._stopping.set()
