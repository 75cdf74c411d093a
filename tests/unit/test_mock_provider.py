"""The mock providers: conventions, seeded failures, delivery record."""

import pytest

from shared.errors import PermanentProviderError, TransientProviderError
from shared.providers.mock import MockProvider, rejects


def make_provider(**overrides):
    options = {"latency_ms": 0, "failure_rate": 0.0, "seed": 1}
    options.update(overrides)
    return MockProvider(overrides.pop("channel", "sms"), **options)


def send(provider, job_id="job-1", recipient="+2348012345678", metadata=None, attempt=1):
    return provider.send(job_id=job_id, recipient=recipient, message="hi", metadata=metadata or {}, attempt=attempt)


def test_a_delivery_is_recorded_with_its_job_id():
    provider = make_provider()
    receipt = send(provider)
    assert provider.name == "mock" and len(receipt.message_id) == 32
    assert provider.delivered("job-1") == 1 and provider.delivered("job-2") == 0


@pytest.mark.parametrize(
    "channel,recipient", [("email", "reject@example.com"), ("sms", "+2348010000000"), ("push", "reject-token")]
)
def test_rejected_recipients_fail_permanently(channel, recipient):
    assert rejects(channel, recipient)
    with pytest.raises(PermanentProviderError):
        send(MockProvider(channel, latency_ms=0, failure_rate=0.0), recipient=recipient)


def test_forced_failures_fail_the_first_attempts_transiently():
    provider = make_provider()
    for attempt in (1, 2):
        with pytest.raises(TransientProviderError):
            send(provider, metadata={"mockFailures": 2}, attempt=attempt)
    send(provider, metadata={"mockFailures": 2}, attempt=3)
    assert provider.delivered("job-1") == 1


def test_forced_failures_are_exact_whatever_the_failure_rate():
    provider = make_provider(failure_rate=1.0, seed=None)
    for attempt in (1, 2):
        with pytest.raises(TransientProviderError, match="forced failure"):
            send(provider, metadata={"mockFailures": 2}, attempt=attempt)
    for job in range(20):  # every one of them, not most: random failures do not apply
        send(provider, job_id=f"job-{job}", metadata={"mockFailures": 2}, attempt=3)
    send(provider, metadata={"mockFailures": 0}, attempt=1)


def test_seeded_outcomes_depend_only_on_seed_job_and_attempt():
    def outcomes(seed):
        provider = make_provider(failure_rate=0.5, seed=seed)
        results = []
        for n in range(40):
            try:
                send(provider, job_id=f"job-{n}")
                results.append(True)
            except TransientProviderError:
                results.append(False)
        return results

    assert outcomes(3) == outcomes(3)
    assert 5 < sum(outcomes(3)) < 35
    assert outcomes(3) != outcomes(4)


def test_failure_rate_one_always_fails_and_zero_never_does():
    with pytest.raises(TransientProviderError):
        send(make_provider(failure_rate=1.0))
    send(make_provider(failure_rate=0.0))


def test_latency_is_slept():
    slept = []
    provider = MockProvider("sms", latency_ms=20, failure_rate=0.0, sleep=slept.append)
    send(provider)
    assert slept == [0.02]


def test_error_messages_carry_no_recipient():
    with pytest.raises(PermanentProviderError) as info:
        send(MockProvider("email", latency_ms=0, failure_rate=0), recipient="reject.alice@example.com")
    assert "alice" not in str(info.value)
