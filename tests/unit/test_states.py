"""The job state machine."""

import pytest

from shared.errors import IllegalTransition
from shared.states import TERMINAL, TRANSITIONS, WAITING, Status, can_move, check_move, sources_of


def test_the_happy_path_is_allowed():
    for a, b in [("pending", "queued"), ("queued", "sending"), ("sending", "sent")]:
        assert can_move(Status(a), Status(b))


def test_a_claim_accepts_the_waiting_statuses_only():
    # A scheduled job only once it is due: shared.deadlines.verdict decides that.
    assert sources_of(Status.SENDING) == WAITING == {Status.SCHEDULED, Status.PENDING, Status.QUEUED, Status.RETRYING}


def test_a_sending_job_ends_or_goes_back_to_pending_on_lease_expiry():
    assert TRANSITIONS[Status.SENDING] == {Status.SENT, Status.RETRYING, Status.FAILED, Status.PENDING,
                                           Status.EXPIRED}


def test_every_waiting_job_can_expire_and_a_scheduled_one_is_released_as_queued():
    assert sources_of(Status.EXPIRED) == WAITING | {Status.SENDING}
    assert can_move(Status.SCHEDULED, Status.QUEUED)
    assert not can_move(Status.SCHEDULED, Status.PENDING)


def test_retrying_can_go_back_to_queued():
    assert can_move(Status.RETRYING, Status.QUEUED)


def test_only_a_failed_job_can_be_retried_by_hand():
    assert sources_of(Status.PENDING) == {Status.SENDING, Status.FAILED}
    assert not can_move(Status.SENT, Status.PENDING)


def test_a_job_can_be_cancelled_until_it_is_being_sent():
    assert sources_of(Status.CANCELLED) == {Status.SCHEDULED, Status.PENDING, Status.QUEUED, Status.RETRYING}


def test_sent_cancelled_and_expired_go_nowhere():
    assert TERMINAL == {Status.SENT, Status.FAILED, Status.CANCELLED, Status.EXPIRED}
    for status in (Status.SENT, Status.CANCELLED, Status.EXPIRED):
        for target in Status:
            assert not can_move(status, target)


@pytest.mark.parametrize(
    "current,target",
    [("queued", "sent"), ("pending", "sent"), ("sent", "queued"), ("failed", "sending"), ("queued", "queued"),
     ("sending", "cancelled"), ("cancelled", "pending"), ("expired", "queued"), ("sent", "expired"),
     ("scheduled", "sent")],
)
def test_illegal_moves_are_refused(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_move(Status(current), Status(target))
    assert info.value.current == current and info.value.target == target
