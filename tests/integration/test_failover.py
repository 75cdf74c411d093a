"""Failover, attempts per channel and provider rates on the real broker and store: each attempt
goes to the provider chosen at its claim, a provider that keeps failing is left out for a while,
a refusal does not fail over, and a provider's rate is kept without failing or outliving leases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from shared.bootstrap import Deps
from shared.intake import create_job, create_jobs
from shared.model import NewJob
from shared.outbox import Sweeper
from shared.providers.mock import read_ledger
from shared.retry import Backoff
from tests.conftest import events, provider, wait_for

BOTH = {"email": ("mock", "mock2"), "sms": ("mock", "mock2"), "push": ("mock", "mock2")}


def sms(recipient: str = "+2348012345678", **metadata: object) -> NewJob:
    return NewJob("sms", recipient, "Your code is 123456", dict(metadata))


def status(deps: Deps, job_id: str) -> str:
    return deps.jobs.get(job_id).status.value


def sent_through(deps: Deps, job_id: str) -> str:
    return next(e.details["provider"] for e in deps.jobs.timeline(job_id) if e.event.value == "sent")


@pytest.fixture
def failover(make_deps, tmp_path: Path) -> tuple[Deps, Path]:
    down = tmp_path / "mock-down"
    deps = make_deps(providers=BOTH, mock_down_file=down, breaker_failures=3,
                     breaker_cooldown_ms=60_000, retry_base_ms=200)
    return deps, down


def test_attempts_name_their_provider_and_go_to_the_next_one_while_the_first_is_open(failover, start_worker):
    deps, down = failover
    start_worker(deps)
    before = create_job(deps, sms())
    wait_for(lambda: status(deps, before.id) == "sent", what="a job through mock")
    assert sent_through(deps, before.id) == "mock"
    down.touch()
    after = [create_job(deps, sms()) for _ in range(10)]
    wait_for(lambda: all(status(deps, j.id) == "sent" for j in after), what="every job, through mock2")
    assert all(sent_through(deps, j.id) == "mock2" for j in after)
    # mock failed three times in a row (more when attempts were already under way when it opened),
    # then was left out: those attempts were retried on mock2, and later jobs went there at once.
    retries = [e for j in after for e in deps.jobs.timeline(j.id) if e.event.value == "retry_scheduled"]
    assert 3 <= len(retries) < len(after)
    assert all(e.details["provider"] == "mock" and e.details["error"] == "mock sms provider is down" for e in retries)
    firsts = []
    for job in after:
        sending = [e.details["provider"] for e in deps.jobs.timeline(job.id) if e.event.value == "sending"]
        assert sending[-1] == "mock2" and set(sending[:-1]) <= {"mock"}
        firsts.append(sending[0])
    assert "mock2" in firsts  # the breaker, not a retry, sent these to mock2
    assert deps.routing.breaker("sms", "mock").is_open and not deps.routing.breaker("email", "mock").is_open


def test_a_refused_recipient_fails_at_once_on_its_provider_without_failing_over(failover, start_worker):
    deps, _ = failover
    start_worker(deps)
    refused = [create_job(deps, sms("+2348010000000")) for _ in range(5)]  # the mock's refusal convention
    wait_for(lambda: all(status(deps, j.id) == "failed" for j in refused), what="the refusals")
    for job in refused:
        assert [e.details.get("provider") for e in deps.jobs.timeline(job.id) if e.event.value in ("sending", "failed")] \
            == ["mock", "mock"]
    assert not deps.routing.breaker("sms", "mock").is_open  # an answer, not an outage
    job = create_job(deps, sms())
    wait_for(lambda: status(deps, job.id) == "sent", what="the next job")
    assert sent_through(deps, job.id) == "mock"


def test_each_channel_has_its_own_attempt_budget(make_deps, start_worker):
    deps = make_deps(channel_max_attempts={"sms": 5}, retry_base_ms=200)
    start_worker(deps)
    text, mail = create_jobs(deps, [sms(mockFailures=99), NewJob("email", "ada@example.com", "hi", {"mockFailures": 99})])
    assert (text.max_attempts, mail.max_attempts) == (5, 3)
    wait_for(lambda: status(deps, text.id) == status(deps, mail.id) == "failed", what="both to use up their budget")
    assert (deps.jobs.get(text.id).attempts, deps.jobs.get(mail.id).attempts) == (5, 3)


def test_exponential_retries_wait_a_jittered_rung_no_longer_than_their_ceiling(make_deps, start_worker):
    deps = make_deps(retry_backoff=Backoff.EXPONENTIAL, retry_base_ms=1000, max_attempts=3)
    start_worker(deps)
    job = create_job(deps, sms(mockFailures=2))
    wait_for(lambda: status(deps, job.id) == "sent", what="the job, after two retries")
    delays = [e.details["delayMs"] for e in deps.jobs.timeline(job.id) if e.event.value == "retry_scheduled"]
    assert delays[0] == 0 and delays[1] in (0, 1000)  # draws below 1 s and 2 s, rounded down to the ladder


@pytest.fixture
def sweeper(deps_for_rates: Deps) -> Iterator[Sweeper]:
    running = Sweeper(deps_for_rates)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=10)


@pytest.fixture
def deps_for_rates(make_deps, tmp_path: Path) -> Deps:
    # A lease far shorter than the run: a token waited for after the claim would outlive it, and
    # the sweeper running beside the worker would take the job back.
    return make_deps(provider_rates={"mock": 5}, prefetch=30, lease_ms=800, sweep_interval_ms=100,
                     mock_ledger=tmp_path / "ledger.jsonl")


def test_a_providers_rate_is_kept_by_waiting_before_the_claim_never_by_failing(deps_for_rates, start_worker, sweeper):
    deps = deps_for_rates
    jobs = create_jobs(deps, [sms(f"+23480123456{n:02d}") for n in range(15)])
    start_worker(deps)
    wait_for(lambda: all(status(deps, j.id) == "sent" for j in jobs), what="every job, at 5 a second")
    sends = sorted(d.at for d in read_ledger(deps.settings.mock_ledger))  # type: ignore[arg-type]
    assert len(sends) == 15  # each once: no lease outlived, no second send
    times = [datetime.fromisoformat(t).timestamp() for t in sends]
    # No six sends within a second (a little slack for the time between a token and its send).
    assert all(times[i + 5] - times[i] >= 0.8 for i in range(len(times) - 5)), times
    for job in jobs:
        assert "lease_expired" not in events(deps, job.id)
        assert events(deps, job.id) == ["created", "queued", "sending", "sent"]
    assert provider(deps, "sms").delivered(jobs[0].id) == 1
