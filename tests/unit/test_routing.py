"""Choosing a provider per attempt: breakers that open after transient failures in a row and
let one trial through after the cooldown, and each provider's rate per process."""

from shared.providers.routing import Breaker, Routing


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_a_breaker_opens_after_the_failures_in_a_row_only():
    clock = Clock()
    breaker = Breaker(3, 30.0, 5.0, clock)
    for ok in (False, False, True, False, False):  # a success resets the run
        breaker.record(ok)
        assert breaker.admit()
    assert breaker.record(False) == "opened"
    assert not breaker.admit() and breaker.is_open


def test_after_the_cooldown_one_trial_goes_through_and_decides():
    clock = Clock()
    breaker = Breaker(1, 30.0, 5.0, clock)
    breaker.record(False)
    clock.t += 29.9
    assert not breaker.admit()
    clock.t += 0.2
    assert breaker.admit()  # the trial
    assert not breaker.admit()  # only one at a time
    breaker.record(False)  # the trial failed: open for another cooldown
    clock.t += 29.9
    assert not breaker.admit()
    clock.t += 0.2
    assert breaker.admit()
    assert breaker.record(True) == "closed"
    assert breaker.admit() and breaker.admit()


def test_a_trial_left_unanswered_makes_way_for_another():
    clock = Clock()
    breaker = Breaker(1, 30.0, 5.0, clock)
    breaker.record(False)
    clock.t += 31
    assert breaker.admit() and not breaker.admit()
    clock.t += 5.1
    assert breaker.admit()


def test_attempts_go_to_the_next_provider_while_the_first_is_open_and_to_the_first_when_all_are():
    clock = Clock()
    routing = Routing(2, 30.0, {}, clock=clock)
    chain = [Named("mock"), Named("mock2")]
    assert routing.choose("sms", chain).name == "mock"  # type: ignore[arg-type]
    routing.record("sms", "mock", ok=False)
    routing.record("sms", "mock", ok=False)
    assert routing.choose("sms", chain).name == "mock2"  # type: ignore[arg-type]
    assert routing.choose("email", chain).name == "mock"  # type: ignore[arg-type]  (each channel its own)
    routing.record("sms", "mock2", ok=False)
    routing.record("sms", "mock2", ok=False)
    assert routing.choose("sms", chain).name == "mock"  # type: ignore[arg-type]


def test_a_provider_without_a_rate_always_has_a_token_and_one_with_a_rate_runs_out():
    routing = Routing(5, 30.0, {"ses": 2, "sns": 0})
    assert all(routing.take_token("mock") for _ in range(100))
    assert all(routing.take_token("sns") for _ in range(100))
    assert [routing.take_token("ses") for _ in range(3)] == [True, True, False]
