"""A job's timeline, embedded in its document: the rules that keep it bounded and the view the
API gives of it.

MongoDB's bounded-array pattern: the events live in the job (`events: [{event, at, details}]`,
oldest first), so a status and its event are written by one atomic update, and a job's story is
read with the job. Growth is bounded without losing the story: the first two entries (`created`,
then normally `queued`) stay, a run of `duplicate_skipped` entries folds into one with a count,
and past `MAX_EVENTS` the oldest of the rest are dropped. Pure functions: no store here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import clock
from shared.model import LogEntry
from shared.states import Event

Doc = dict[str, Any]
MAX_EVENTS = 50
PINNED = 2  # the first entries, never dropped
# Room a claim leaves for its own `sending` entry and the attempt's outcome.
CLAIM_ROOM = 2


def entry(event: Event, details: Doc | None = None, at: datetime | None = None) -> Doc:
    """One timeline entry as it is stored."""
    return {"event": event.value, "at": at or clock.now(), "details": details or {}}


@dataclass(frozen=True)
class Appended:
    """A timeline after an append: the entries to store and how many more were dropped."""

    events: list[Doc]
    dropped: int


def fits(events: Sequence[Doc], room: int = 1) -> bool:
    """Whether `room` more entries can be pushed without passing the bound."""
    return len(events) + room <= MAX_EVENTS


def trimmed(events: Sequence[Doc], room: int = 0) -> Appended:
    """The timeline cut so that `room` more entries fit: pinned entries kept, oldest others dropped."""
    keep = MAX_EVENTS - room
    if len(events) <= keep:
        return Appended(list(events), 0)
    drop = len(events) - keep
    return Appended([*events[:PINNED], *events[PINNED + drop:]], drop)


def append(events: Sequence[Doc], new: Doc) -> Appended:
    """The timeline with `new` added: a `duplicate_skipped` right after another folds into it
    (it keeps its time; `details.count`, the messages skipped, grows and `details.lastAt` moves
    on), anything else is added and the bound applied."""
    if new["event"] == Event.DUPLICATE_SKIPPED.value:
        copies = int(new["details"].get("count", 1))
        if events and events[-1]["event"] == new["event"]:
            last = events[-1]
            count = int(last["details"].get("count", 1)) + copies
            folded = {**last, "details": {**new["details"], "count": count, "lastAt": clock.iso(new["at"])}}
            return Appended([*events[:-1], folded], 0)
        new = {**new, "details": {**new["details"], "count": copies}}
    cut = trimmed(events, room=1)
    return Appended([*cut.events, new], cut.dropped)


def log_entries(job_id: str, events: Sequence[Doc], dropped: int = 0) -> list[LogEntry]:
    """The timeline as the API's log entries. Each id is `<jobId>-<n>`, n counting every entry the
    job ever had, so an id stays the same when older entries are dropped."""
    return [
        LogEntry(
            id=f"{job_id}-{index if index < PINNED else index + dropped}",
            job_id=job_id,
            event=Event(e["event"]),
            details=e.get("details") or {},
            created_at=e["at"],
        )
        for index, e in enumerate(events)
    ]
