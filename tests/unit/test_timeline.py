"""The timeline embedded in a job: bounded without losing its story, with stable entry ids."""

from datetime import UTC, datetime, timedelta

from shared import timeline
from shared.states import Event

T0 = datetime(2026, 11, 24, 13, 5, 1, 123000, tzinfo=UTC)


def at(n):
    return T0 + timedelta(seconds=n)


def story(n):
    """created, queued, then n - 2 attempts' entries."""
    names = [Event.CREATED, Event.QUEUED] + [Event.SENDING, Event.RETRY_SCHEDULED] * n
    return [timeline.entry(e, {"n": i}, at(i)) for i, e in enumerate(names[:n])]


def test_an_entry_is_its_event_its_time_and_its_details():
    assert timeline.entry(Event.SENT, {"attempt": 1}, T0) == {"event": "sent", "at": T0, "details": {"attempt": 1}}


def test_an_entry_is_added_at_the_end_while_the_timeline_has_room():
    added = timeline.append(story(3), timeline.entry(Event.SENT, {}, at(9)))
    assert [e["event"] for e in added.events] == ["created", "queued", "sending", "sent"] and added.dropped == 0


def test_past_the_bound_the_oldest_entries_after_the_first_two_are_dropped():
    full = story(timeline.MAX_EVENTS)
    added = timeline.append(full, timeline.entry(Event.SENT, {}, at(99)))
    assert len(added.events) == timeline.MAX_EVENTS and added.dropped == 1
    assert [e["event"] for e in added.events[:2]] == ["created", "queued"]
    assert added.events[2] == full[3] and added.events[-1]["event"] == "sent"


def test_trimming_makes_room_for_a_claim_and_its_outcome():
    cut = timeline.trimmed(story(timeline.MAX_EVENTS - 1), room=timeline.CLAIM_ROOM)
    assert len(cut.events) == timeline.MAX_EVENTS - 2 and cut.dropped == 1
    assert timeline.fits(cut.events, timeline.CLAIM_ROOM) and not timeline.fits(story(timeline.MAX_EVENTS - 1), 2)


def test_repeated_duplicates_fold_into_one_entry_with_a_count():
    events = story(4)
    for n in range(3):
        events = timeline.append(events, timeline.entry(Event.DUPLICATE_SKIPPED, {"reason": "finished"}, at(10 + n))).events
    last = events[-1]
    assert len(events) == 5 and last["event"] == "duplicate_skipped"
    assert last["at"] == at(10) and last["details"] == {"reason": "finished", "count": 3, "lastAt": "2026-11-24T13:05:13.123Z"}


def test_a_duplicate_entry_may_stand_for_several_messages():
    events = timeline.append(story(3), timeline.entry(Event.DUPLICATE_SKIPPED, {"count": 4}, at(5))).events
    events = timeline.append(events, timeline.entry(Event.DUPLICATE_SKIPPED, {"count": 2}, at(6))).events
    assert events[-1]["details"]["count"] == 6 and len(events) == 4


def test_a_duplicate_after_another_event_starts_a_new_entry():
    events = timeline.append(story(3), timeline.entry(Event.DUPLICATE_SKIPPED, {}, at(5))).events
    events = timeline.append(events, timeline.entry(Event.SENT, {}, at(6))).events
    events = timeline.append(events, timeline.entry(Event.DUPLICATE_SKIPPED, {}, at(7))).events
    assert [e["event"] for e in events[-3:]] == ["duplicate_skipped", "sent", "duplicate_skipped"]
    assert events[-1]["details"] == {"count": 1}


def test_log_entry_ids_count_every_entry_the_job_ever_had():
    entries = timeline.log_entries("6b05a10ad2944b3343f56957", story(5), dropped=7)
    assert [e.id.rsplit("-", 1)[1] for e in entries] == ["0", "1", "9", "10", "11"]
    assert entries[0].to_json() == {"id": "6b05a10ad2944b3343f56957-0", "jobId": "6b05a10ad2944b3343f56957",
                                    "event": "created", "details": {"n": 0}, "createdAt": "2026-11-24T13:05:01.123Z"}


def test_an_entry_keeps_its_id_when_older_ones_are_dropped():
    events = story(timeline.MAX_EVENTS)
    before = {e.created_at: e.id for e in timeline.log_entries("j", events)}
    added = timeline.append(events, timeline.entry(Event.SENT, {}, at(99)))
    after = {e.created_at: e.id for e in timeline.log_entries("j", added.events, added.dropped)}
    assert all(before[t] == after[t] for t in after if t in before)
