"""Store work per delivered job, counted through pymongo's command monitoring: documents each
write command inserted or modified, and documents each read returned, divided by jobs.

The budget on the happy path: at most 4 document writes of jobs (insert, the batched mark
`queued`; the claim and the outcome) and at most 1 document read (the claim's), with the
counters a fraction of a write per job; a retry adds at most 2 writes."""

from __future__ import annotations

from collections.abc import Callable

from local.consumer import Consumer
from shared.bootstrap import Deps
from shared.counters import COUNTERS
from shared.intake import create_job, create_jobs
from shared.model import NewJob
from shared.store import JOBS
from shared.storework import STORE_WORK, Work
from tests.conftest import wait_for

SMS = NewJob("sms", "+2348012345678", "Your code is 123456")


def measure(deps: Deps, start_worker: Callable[[Deps], Consumer], news: list[NewJob], finished: str) -> Work:
    """Store work of accepting `news` (in batches of 50, the rest one by one) and delivering them,
    waiting on the counters only (reads of the jobs would count against the budget)."""
    before = STORE_WORK.snapshot(deps.settings.mongodb_db)
    batched = len(news) - len(news) % 50
    for start in range(0, batched, 50):
        create_jobs(deps, news[start:start + 50])
    for new in news[batched:]:
        create_job(deps, new)
    start_worker(deps)  # after the creates: the measure is the pipeline's, without races in it
    wait_for(lambda: deps.jobs.counters.counts("default")[finished] == len(news), timeout=60,
             interval=0.2, what=f"every job to be {finished}")
    deps.jobs.counters.flush()
    return STORE_WORK.snapshot(deps.settings.mongodb_db) - before


def test_a_delivered_job_costs_four_document_writes_and_one_read(make_deps, start_worker):
    deps = make_deps(prefetch=50)
    n = 210
    work = measure(deps, start_worker, [SMS] * n, "sent")
    assert work.written[JOBS] == 4 * n  # insert, queued, claim, outcome: each one document
    assert work.read[JOBS] == n  # the claim's read
    # Counters: one upsert per tenant (and per second of finishes) per flush, shared by many jobs.
    assert 0 < work.written[COUNTERS] < 0.5 * n
    assert sum(work.commands.values()) < n  # bulk commands, not one per job and step


def test_a_retry_adds_two_writes(make_deps, start_worker):
    deps = make_deps(prefetch=50, retry_base_ms=200)
    n = 100
    work = measure(deps, start_worker, [NewJob("sms", "+2348012345678", "code", {"mockFailures": 1})] * n, "sent")
    assert work.written[JOBS] == 6 * n  # one more claim and outcome per job
    assert work.read[JOBS] == 2 * n  # one more claim read


def test_suppressions_are_looked_up_once_per_claim_not_once_per_job(make_deps, start_worker):
    from shared.suppressions import SUPPRESSIONS

    deps = make_deps(prefetch=50)
    deps.suppressions.add("default", "+2348099999999", "manual")  # someone else
    n = 200
    news = [NewJob("sms", f"+23480{i:08d}", "Your code is 123456") for i in range(1, n + 1)]
    work = measure(deps, start_worker, news, "sent")
    # One read per claim (a batch of up to 25 messages here), whatever the number of jobs in it;
    # it returns only entries that match (none here), and the budget of the jobs is unchanged.
    assert 0 < work.on[SUPPRESSIONS] <= n / 5
    assert work.read[SUPPRESSIONS] == 0
    assert work.written[JOBS] == 4 * n and work.read[JOBS] == n


def test_a_sent_webhook_adds_no_store_work_to_the_workers(make_deps, start_worker):
    from shared.webhooks import WEBHOOKS

    deps = make_deps(prefetch=50)
    deps.webhooks.create("default", "http://127.0.0.1:9/hook", ["sent"], "whsec_dGVzdA==")
    n = 100
    work = measure(deps, start_worker, [SMS] * n, "sent")
    assert work.written[JOBS] == 4 * n and work.read[JOBS] == n  # the marker rides in the outcome's update
    assert work.on[WEBHOOKS] <= 3  # who listens: one small read per tenant every few seconds


def test_a_lifecycle_sweep_with_nothing_due_reads_one_job_per_scan_not_a_batch(make_deps, start_worker):
    from shared import lifecycle

    deps = make_deps(prefetch=50)
    n = 120
    measure(deps, start_worker, [SMS] * n, "sent")  # finished, and far from any window
    before = STORE_WORK.snapshot(deps.settings.mongodb_db)
    result = lifecycle.lifecycle_sweep(deps)
    work = STORE_WORK.snapshot(deps.settings.mongodb_db) - before
    assert (result.redacted, result.deleted) == (0, 0)
    assert work.read[JOBS] == 2  # the oldest sent job, once for redaction and once for retention
