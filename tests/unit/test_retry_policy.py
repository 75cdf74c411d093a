"""The retry policy: linear or exponential with full jitter, capped, rounded down to the ladder."""

import pytest

from shared.errors import PermanentProviderError, TransientProviderError
from shared.retry import LADDER_MS, Backoff, RetryPolicy, rung


def test_the_ladder_is_the_fixed_one_from_a_second_to_an_hour():
    assert [ms // 1000 for ms in LADDER_MS] == [1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600]


@pytest.mark.parametrize(("delay", "rounded"), [
    (0, 0), (999, 0), (1000, 1000), (1999, 1000), (4999, 2000), (5000, 5000), (299_999, 120_000),
    (300_000, 300_000), (10**9, 3_600_000),
])
def test_a_delay_is_rounded_down_to_a_rung_and_below_a_second_to_none(delay, rounded):
    assert rung(delay) == rounded


def test_linear_grows_with_attempts_on_the_ladder():
    policy = RetryPolicy(base_ms=1000)
    assert [policy.delay_ms(n) for n in (1, 2, 3, 4, 5, 6)] == [1000, 2000, 2000, 2000, 5000, 5000]


def test_a_base_below_a_second_retries_at_once_until_the_delay_reaches_a_rung():
    policy = RetryPolicy(base_ms=200)
    assert [policy.delay_ms(n) for n in (1, 2, 4, 5)] == [0, 0, 0, 1000]


def test_exponential_draws_up_to_a_doubling_ceiling_and_rounds_the_draw_down():
    draws = iter([0.999, 0.999, 0.999, 0.5, 0.0])
    policy = RetryPolicy(base_ms=1000, backoff=Backoff.EXPONENTIAL, draw=lambda: next(draws))
    # Ceilings 1 s, 2 s, 4 s, 8 s, 16 s: draws of 999 ms, 1,998 ms, 3,996 ms, 4 s and 0.
    assert [policy.delay_ms(n) for n in (1, 2, 3, 4, 5)] == [0, 1000, 2000, 2000, 0]


def test_the_cap_bounds_every_delay_however_many_attempts():
    exponential = RetryPolicy(base_ms=1000, backoff=Backoff.EXPONENTIAL, max_ms=300_000, draw=lambda: 0.9999)
    assert exponential.ceiling_ms(10) == 300_000 and exponential.ceiling_ms(500) == 300_000
    assert exponential.delay_ms(500) == 120_000
    assert RetryPolicy(base_ms=60_000, max_ms=300_000).delay_ms(50) == 300_000


def test_the_longest_wait_is_the_caps_rung():
    assert RetryPolicy(max_ms=300_000).longest_ms == 300_000 and RetryPolicy(max_ms=400_000).longest_ms == 300_000


def test_the_rungs_a_budget_can_use_are_known_ahead():
    assert RetryPolicy(base_ms=1000).rungs(3) == [1000, 2000]
    assert RetryPolicy(base_ms=200).rungs(3) == [0]
    assert RetryPolicy(base_ms=1000, backoff=Backoff.EXPONENTIAL).rungs(4) == [0, 1000, 2000]
    assert RetryPolicy().rungs(1) == []


def test_a_transient_failure_is_retried_while_attempts_remain():
    decision = RetryPolicy(base_ms=500).decide(TransientProviderError("timeout"), attempts=2, max_attempts=3)
    assert decision.retry and decision.delay_ms == 1000


def test_the_last_attempt_is_not_retried():
    assert not RetryPolicy().decide(TransientProviderError("timeout"), attempts=3, max_attempts=3).retry


def test_a_permanent_failure_is_never_retried():
    assert not RetryPolicy().decide(PermanentProviderError("bad recipient"), attempts=1, max_attempts=3).retry
