"""A group commit's counter changes: status moves per tenant, finishes per second in a document per minute."""

from shared.counters import Tally, minute_id, status_id
from shared.states import Status


def test_moves_net_out_per_tenant_and_finishes_count_per_second():
    tally = Tally()
    tally.move("acme", Status.QUEUED, Status.SENDING, 3)
    tally.move("acme", Status.SENDING, Status.SENT, 2, at_s=100)
    tally.move("acme", Status.SENDING, Status.FAILED, 1, at_s=101)
    tally.move("acme", Status.SENDING, Status.SENT, 4, at_s=125)
    tally.move("beta", None, Status.PENDING, 5)
    assert dict(tally.moves["acme"]) == {"queued": -3, "sending": -4, "sent": 6, "failed": 1}
    assert dict(tally.finishes) == {("acme", 100): {"sent": 2}, ("acme", 101): {"failed": 1}, ("acme", 125): {"sent": 4}}
    ops = {op._filter["_id"]: op._doc["$inc"] for op in tally.ops()}
    assert ops == {status_id("acme"): {"queued": -3, "sending": -4, "sent": 6, "failed": 1, "v": 1},
                   status_id("beta"): {"pending": 5, "v": 1},
                   # one document per minute (60-119, 120-179), a field per second
                   minute_id("acme", 60): {"sent_40": 2, "failed_41": 1}, minute_id("acme", 120): {"sent_05": 4}}


def test_merged_tallies_add_up_and_an_empty_one_writes_nothing():
    one, two = Tally(), Tally()
    one.move("acme", None, Status.PENDING, 2)
    two.move("acme", Status.PENDING, Status.QUEUED, 2)
    one.add(two)
    assert dict(one.moves["acme"]) == {"pending": 0, "queued": 2}
    assert Tally().ops() == []
