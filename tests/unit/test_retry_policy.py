"""The retry policy."""

from shared.errors import PermanentProviderError, TransientProviderError
from shared.retry import RetryPolicy


def test_the_delay_grows_with_attempts():
    policy = RetryPolicy(base_ms=1000)
    assert [policy.delay_ms(n) for n in (1, 2, 3)] == [1000, 2000, 3000]


def test_a_transient_failure_is_retried_while_attempts_remain():
    decision = RetryPolicy(base_ms=500).decide(TransientProviderError("timeout"), attempts=2, max_attempts=3)
    assert decision.retry and decision.delay_ms == 1000


def test_the_last_attempt_is_not_retried():
    assert not RetryPolicy().decide(TransientProviderError("timeout"), attempts=3, max_attempts=3).retry


def test_a_permanent_failure_is_never_retried():
    assert not RetryPolicy().decide(PermanentProviderError("bad recipient"), attempts=1, max_attempts=3).retry
