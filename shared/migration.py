"""`wavecom migrate`: brings a store written by an earlier release to the current shape.

Earlier releases kept each job's timeline as documents in `notificationlogs`. This moves them
into their jobs (`events`, oldest first, bounded like every timeline), deletes what it moved,
drops fields nothing reads any more, counts each tenant's jobs into the maintained counters, and
deletes the one-document-per-second throughput counts of earlier releases (now one per minute).
Safe to run again, and beside a running stack: a timeline is replaced only if it did not change
since it was read, entries already moved are recognised and not added twice, and counters are
corrected only by the compare-and-set the sweeper uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from pymongo.collection import Collection

from shared.bootstrap import Deps
from shared.errors import JobNotFound
from shared.mongo import translated

Doc = dict[str, Any]
LOGS = "notificationlogs"  # where earlier releases kept timelines
DEAD_FIELDS = ("finishedBy", "__v")  # written by earlier releases, read by nothing now
log = logging.getLogger("wavecom.migrate")


@dataclass
class Migrated:
    """What a migration did."""

    jobs: int = 0  # jobs whose timeline took entries from the old collection
    entries: int = 0  # entries moved
    orphans: int = 0  # entries of no job, left where they are
    reshaped: int = 0  # jobs that lost dead fields
    tenants: int = 0  # tenants whose counters were made or corrected
    seconds: int = 0  # per-second throughput documents of the earlier shape, deleted
    lifecycle: int = 0  # jobs given their redaction state (`redacted: 0`), so the lifecycle finds them


def _moves(logs: Collection[Doc]) -> list[tuple[str, list[Doc]]]:
    """Each job id of the old collection with its entries, oldest first (ids written as hex
    strings or as ObjectIds alike)."""
    with translated():
        docs = list(logs.find({}))
    docs.sort(key=lambda d: (str(d["jobId"]), d["createdAt"], str(d["_id"])))
    return [(job_id, list(group)) for job_id, group in groupby(docs, key=lambda d: str(d["jobId"]))]


def migrate(deps: Deps) -> Migrated:
    """Bring the store `deps` points at to the current shape; what was done."""
    logs = deps.jobs.client.get_database(deps.settings.mongodb_db)[LOGS]
    done = Migrated()
    for job_id, old in _moves(logs):
        entries = [{"event": d["event"], "at": d["createdAt"], "details": d.get("details") or {}} for d in old]
        try:
            merged = deps.jobs.merge_timeline(job_id, entries)
        except JobNotFound:
            done.orphans += len(old)
            continue
        if not merged:
            log.warning("timeline kept changing under the migration; run it again", extra={"job_id": job_id})
            continue
        with translated():
            logs.delete_many({"_id": {"$in": [d["_id"] for d in old]}})
        done.jobs += 1
        done.entries += len(old)
    done.reshaped = deps.jobs.drop_fields(DEAD_FIELDS)
    for tenant in deps.jobs.tenants():
        if deps.jobs.counters.reconcile(tenant, deps.jobs.count_by_status):
            done.tenants += 1
    done.seconds = deps.jobs.counters.drop_per_second_documents()
    done.lifecycle = deps.jobs.mark_unredacted()
    return done
