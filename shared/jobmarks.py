"""Webhook markers on jobs (shared.hookmarks): which writes carry one, telling the publisher of
those just stored, pulling one once handled, and finding those left behind. Part of
shared.store.JobStore (a mixin, to keep each module small)."""

from __future__ import annotations

import logging

from pymongo import UpdateOne
from pymongo.collection import Collection

from shared import clock
from shared.errors import WavecomError
from shared.hookmarks import EVENT_OF, Doc, Listening, Mark, Marked, add_mark, marks_of
from shared.jobdocs import eq, object_id
from shared.mongo import translated
from shared.states import Status

log = logging.getLogger("wavecom.store")


class JobMarks:
    """Markers of jobs' pending webhook events (needs `_c`, `listening` and `on_marked`)."""

    _c: Collection[Doc]
    listening: Listening | None
    on_marked: Marked | None

    def mark_for(self, tenant: str, event: str) -> Mark | None:
        """A new marker when an enabled endpoint of the tenant wants the event, else None."""
        if self.listening is None or not self.listening(tenant, event):
            return None
        return Mark.new(event)

    def marked(self, update: Doc, tenant: str, target: Status) -> Mark | None:
        """The marker of a move to `target`, put into the move's update, when that status is a
        webhook event an enabled endpoint of the tenant wants; else None."""
        event = EVENT_OF.get(target)
        mark = self.mark_for(tenant, event) if event is not None else None
        if mark is not None:
            add_mark(update, mark)
        return mark

    def announce(self, marks: list[tuple[str, Mark]]) -> None:
        """Hand markers just stored to the publisher; one it could not take stays for the
        sweeper, so this never fails the write that stored it."""
        if not marks or self.on_marked is None:
            return
        try:
            self.on_marked(marks)
        except WavecomError as e:
            log.warning("webhook events left for the sweeper", extra={"events": len(marks), "error": str(e)})

    def clear_marks(self, marks: list[tuple[str, Mark]]) -> None:
        """Pull handled markers, and with a job's last one its time: one command for all of them,
        no read (the first update of each pair matches only a job whose one marker it is)."""
        ops = []
        for job_id, mark in marks:
            _id = object_id(job_id)
            ops += [UpdateOne({"_id": _id, "hooks": {"$size": 1, "$all": [mark.text]}},
                              {"$set": {"hooks": []}, "$unset": {"hooksAtMs": ""}}),
                    UpdateOne({"_id": _id}, {"$pull": {"hooks": mark.text}})]
        if ops:
            with translated():
                self._c.bulk_write(ops, ordered=True)

    def drop_marks(self, tenant: str) -> int:
        """Forget a tenant's pending webhook events (a benchmark's tenant whose endpoint is gone);
        how many jobs had some."""
        with translated():
            return self._c.update_many({"tenant": eq(tenant), "hooksAtMs": {"$exists": True}},
                                       {"$set": {"hooks": []}, "$unset": {"hooksAtMs": ""}}).modified_count

    def left_marks(self, older_than_ms: int, limit: int) -> list[tuple[str, list[Mark], int]]:
        """Jobs whose newest marker is older than `older_than_ms`: (job id, markers, hooksAtMs),
        one indexed read."""
        with translated():
            docs = self._c.find({"hooksAtMs": {"$lte": older_than_ms}}, {"hooks": 1, "hooksAtMs": 1}).limit(limit)
            return [(str(d["_id"]), marks_of(d), int(d["hooksAtMs"])) for d in docs]

    def retouch_marks(self, job_id: str, at_ms: int, keep: bool) -> bool:
        """Take the job's leftover markers (a compare-and-set on `hooksAtMs`): their time moves
        to now while some remain (`keep`), else it goes. False when another sweeper took them."""
        update: Doc = {"$set": {"hooksAtMs": clock.epoch_ms()}} if keep else {"$unset": {"hooksAtMs": ""}}
        with translated():
            return bool(self._c.update_one({"_id": object_id(job_id), "hooksAtMs": eq(at_ms)}, update).modified_count)
