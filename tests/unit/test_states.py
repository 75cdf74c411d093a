"""The job state machine."""

import pytest

from shared.errors import IllegalTransition
from shared.states import EVENT_FOR, TERMINAL, TRANSITIONS, Status, can_move, check_move, sources_of


def test_the_happy_path_is_allowed():
    for a, b in [("pending", "queued"), ("queued", "sending"), ("sending", "sent")]:
        assert can_move(Status(a), Status(b))


def test_a_claim_accepts_pending_queued_and_retrying_only():
    assert sources_of(Status.SENDING) == {Status.PENDING, Status.QUEUED, Status.RETRYING}


def test_a_sending_job_ends_sent_retrying_or_failed():
    assert TRANSITIONS[Status.SENDING] == {Status.SENT, Status.RETRYING, Status.FAILED}


def test_retrying_can_go_back_to_queued():
    assert can_move(Status.RETRYING, Status.QUEUED)


def test_terminal_statuses_go_nowhere():
    assert TERMINAL == {Status.SENT, Status.FAILED, Status.CANCELLED}
    for status in TERMINAL:
        for target in Status:
            assert not can_move(status, target)


@pytest.mark.parametrize(
    "current,target",
    [("queued", "sent"), ("pending", "failed"), ("sent", "queued"), ("failed", "sending"), ("queued", "queued")],
)
def test_illegal_moves_are_refused(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_move(Status(current), Status(target))
    assert info.value.current == current and info.value.target == target


def test_every_reachable_status_logs_an_event():
    reachable = {t for targets in TRANSITIONS.values() for t in targets}
    assert reachable <= set(EVENT_FOR)
