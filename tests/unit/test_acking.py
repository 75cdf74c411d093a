"""The at-least-once rules: what becomes of a message, and of a batch, once it was handled."""

import pytest

from shared.acking import ACK, HOLD, REQUEUE, Action, Decision, decide, deliveries, fold
from shared.delivery import Outcome
from shared.errors import BrokerUnavailable, PoisonMessage, StoreUnavailable

LIMIT = 5


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_delivery_outcome_is_acked(outcome):
    assert decide(outcome, 1, LIMIT) == ACK
    assert decide(outcome, LIMIT + 3, LIMIT) == ACK


def test_a_poison_message_is_dead_lettered_at_once_with_its_reason():
    assert decide(PoisonMessage("message has no jobId"), 1, LIMIT) == Decision(Action.DEAD_LETTER, "message has no jobId")


@pytest.mark.parametrize("outage", [StoreUnavailable("down"), BrokerUnavailable("down")])
def test_an_outage_holds_the_message_whatever_its_delivery_count(outage):
    assert decide(outage, 1, LIMIT) == HOLD
    assert decide(outage, LIMIT, LIMIT) == HOLD


def test_a_handler_error_is_requeued_until_the_last_allowed_delivery_then_dead_lettered():
    bug = KeyError("x")
    assert [decide(bug, n, LIMIT) for n in range(1, LIMIT)] == [REQUEUE] * (LIMIT - 1)
    assert decide(bug, LIMIT, LIMIT) == Decision(Action.DEAD_LETTER, "handler error (KeyError) after 5 deliveries")


@pytest.mark.parametrize(("headers", "expected"), [
    (None, 1), ({}, 1), ({"x-delivery-count": 0}, 1), ({"x-delivery-count": 4}, 5),
    ({"x-delivery-count": "4"}, 1), ({"x-delivery-count": True}, 1),
])
def test_the_delivery_count_is_read_from_the_quorum_queue_header(headers, expected):
    assert deliveries(headers) == expected


def test_a_batch_of_acks_and_dead_letters_is_acked_whole():
    verdict = fold([ACK, Decision(Action.DEAD_LETTER, "no job has this id"), ACK])
    assert verdict.ack_all and verdict.dead_letters == ((1, "no job has this id"),)


@pytest.mark.parametrize("other", [REQUEUE, HOLD])
def test_a_batch_with_a_message_to_try_again_comes_back_whole_after_its_poison_is_dead_lettered(other):
    verdict = fold([Decision(Action.DEAD_LETTER, "message body is not JSON"), ACK, other])
    assert not verdict.ack_all and verdict.dead_letters == ((0, "message body is not JSON"),)


def test_an_empty_batch_is_acked():
    assert fold([]).ack_all
