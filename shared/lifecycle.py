"""How long personal data is kept, and how it is erased on request.

The sweeper runs `lifecycle_sweep` once every WAVECOM_LIFECYCLE_INTERVAL_MS (one sweeper a
turn): finished jobs lose their message and metadata, and their recipient is masked, once
WAVECOM_REDACT_AFTER_HOURS (or the job's own `redactAfterSeconds`) have passed since their last
update; they are deleted with what is attached to them (webhook tries, idempotency records) and
the counters moved once WAVECOM_RETENTION_DAYS (or the tenant's own, shorter, retention) have
passed; and erasures get their final pass. Every step works in bounded batches.

An erasure (`erase`) redacts every job of the tenant to the recipient, with its keyed hash in
place of the recipient, cancels those not yet sent, deletes their webhook tries and idempotency
records, keeps the suppressions (hashes already) and records an audit entry naming the hash.
A job being sent while it ran is caught by its final pass, once the lease time has passed; until
then the erasure keeps the recipient to look for, and drops it after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import clock, timeline
from shared.bootstrap import Deps
from shared.hashing import normalised, recipient_hash
from shared.privacystores import Doc
from shared.states import CANCELLABLE, TERMINAL, Event, Status

log = logging.getLogger("wavecom.lifecycle")
BATCH = 500
DAY_MS = 86_400_000


@dataclass
class LifecycleResult:
    """What one lifecycle pass did."""

    redacted: int = 0
    deleted: int = 0
    erasures: int = 0  # erasures finished


def lifecycle_sweep(deps: Deps) -> LifecycleResult:
    """Delete what is past retention, redact what is due, finish due erasures."""
    result = LifecycleResult()
    now_ms = clock.epoch_ms()
    cutoffs: dict[str | None, int] = {None: now_ms - deps.settings.retention_days * DAY_MS}
    for tenant, days in deps.policies.shorter().items():
        if days < deps.settings.retention_days:
            cutoffs[tenant] = now_ms - days * DAY_MS
    for whose, cutoff in cutoffs.items():
        result.deleted += _delete(deps, deps.jobs.retention_due(cutoff, BATCH, whose))
    due = deps.jobs.redaction_due(now_ms, deps.settings.redact_after_hours * 3_600_000, BATCH)
    result.redacted = len(deps.jobs.redact(due, {"reason": "retention"}))
    for erasure in deps.erasures.due(now_ms):
        _final_pass(deps, erasure)
        result.erasures += 1
    if result.redacted or result.deleted or result.erasures:
        log.info("lifecycle", extra={"redacted": result.redacted, "deleted": result.deleted,
                                     "erasures": result.erasures})
    return result


def _delete(deps: Deps, docs: list[Doc]) -> int:
    """Delete finished jobs and what is attached to them."""
    gone = set(deps.jobs.delete_finished(docs))
    by_tenant: dict[str, list[str]] = {}
    for doc in docs:
        if str(doc["_id"]) in gone:
            by_tenant.setdefault(str(doc.get("tenant", "default")), []).append(str(doc["_id"]))
    for tenant, ids in by_tenant.items():
        deps.webhooks.forget_jobs(tenant, ids)
        deps.idempotency.forget_jobs(tenant, ids)
    return len(gone)


def erase(deps: Deps, tenant: str, recipient: str, key_id: str | None) -> Doc:
    """Erase a recipient's data for a tenant now, leaving its final pass to the sweeper; the
    erasure as started."""
    hashed = recipient_hash(deps.settings.hash_key, recipient)
    final_at = clock.epoch_ms() + deps.settings.lease_ms
    erasure = deps.erasures.start(tenant, hashed, key_id, final_at, recipient)
    jobs, cancelled = _pass(deps, erasure, recipient)
    deps.audits.record(tenant, "erasure", key_id, erasureId=erasure["_id"], recipientHash=hashed)
    log.info("erasure started", extra={"erasure_id": erasure["_id"], "jobs": jobs, "cancelled": cancelled})
    return deps.erasures.progress(erasure["_id"], jobs, cancelled)


def _final_pass(deps: Deps, erasure: Doc) -> None:
    jobs, cancelled = _pass(deps, erasure, str(erasure.get("recipient") or ""))
    deps.erasures.progress(erasure["_id"], jobs, cancelled, done=True)
    log.info("erasure done", extra={"erasure_id": erasure["_id"], "jobs": jobs, "cancelled": cancelled})


def _pass(deps: Deps, erasure: Doc, recipient: str) -> tuple[int, int]:
    """One pass over the tenant's jobs to the recipient: (jobs erased, jobs cancelled)."""
    if not recipient:
        return 0, 0
    tenant, hashed = erasure["tenant"], erasure["recipientHash"]
    variants = list(dict.fromkeys([recipient, recipient.strip(), normalised(recipient)]))
    cancelled = 0
    for doc in deps.jobs.of_recipient(tenant, variants):
        if Status(doc["status"]) in CANCELLABLE:
            entry = timeline.entry(Event.CANCELLED, {"reason": "erasure", "erasureId": erasure["_id"]})
            if deps.jobs.move(str(doc["_id"]), Status.CANCELLED, entry, sources=CANCELLABLE, tenant=tenant):
                cancelled += 1
    finished = [d for d in deps.jobs.of_recipient(tenant, variants) if Status(d["status"]) in TERMINAL]
    ids = deps.jobs.redact(finished, {"reason": "erasure", "erasureId": erasure["_id"]},
                           recipient=lambda _: hashed, scrub=True)
    deps.webhooks.forget_jobs(tenant, ids)
    deps.idempotency.forget_jobs(tenant, ids)
    return len(ids), cancelled
