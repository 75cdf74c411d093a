"""Webhook outbox markers: a job's pending webhook events, written in the same update as the
event itself, so a crash between the event and its webhook cannot lose the webhook.

A marker is a short text in the job's `hooks` array, `<event>:<id>:<epoch ms>`, and `hooksAtMs`
says when the newest was written. The id is the `webhook-id` every delivery of that event
carries (receivers deduplicate on it). Once the webhook consumer has made the first attempt at
every endpoint and queued the retries, it pulls the marker; the sweeper publishes again markers
left behind. The markers a write stored travel in one message (`{"events": [{jobId, mark}]}`),
so a batch of outcomes costs the broker one message, not one per job. Markers carry no personal
data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from shared import clock
from shared.states import Event, Status

Doc = dict[str, Any]
Listening = Callable[[str, str], bool]  # (tenant, event) -> whether an enabled endpoint wants it
Marked = Callable[[list[tuple[str, "Mark"]]], None]  # told of (job id, marker) pairs just stored

# The webhook event a status change is.
EVENT_OF: dict[Status, Event] = {Status.SENT: Event.SENT, Status.FAILED: Event.FAILED,
                                 Status.EXPIRED: Event.EXPIRED, Status.CANCELLED: Event.CANCELLED}


@dataclass(frozen=True)
class Mark:
    """One pending webhook event of a job."""

    event: str
    id: str
    at_ms: int

    @property
    def text(self) -> str:
        """The stored form."""
        return f"{self.event}:{self.id}:{self.at_ms}"

    @classmethod
    def parse(cls, text: str) -> Mark:
        """The marker a stored text holds; ValueError if it is not one."""
        event, mark_id, at_ms = text.split(":")
        return cls(event, mark_id, int(at_ms))

    @classmethod
    def new(cls, event: str) -> Mark:
        """A marker for an event happening now."""
        return cls(event, f"msg_{ObjectId()}", clock.epoch_ms())


def add_mark(update: Doc, mark: Mark) -> None:
    """Put a marker into a job's update (after its timeline entry is in it)."""
    update.setdefault("$push", {})["hooks"] = mark.text
    update.setdefault("$set", {})["hooksAtMs"] = mark.at_ms


def marks_of(doc: Doc) -> list[Mark]:
    """The markers a job document holds (any text that is not one is passed over)."""
    found = []
    for text in doc.get("hooks") or []:
        try:
            found.append(Mark.parse(str(text)))
        except ValueError:
            continue
    return found


def events_message(marks: list[tuple[str, Mark]]) -> Doc:
    """One message for the webhook events of a write (a batch's outcomes, say): ids only."""
    return {"events": [{"jobId": job_id, "mark": mark.text} for job_id, mark in marks]}
