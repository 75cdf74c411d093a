"""Every list query the API makes, and every query the sweeper repeats each second, is answered
from an index, so its cost follows what it returns, not the collection: the store's own query
plan (explain) for each find they send."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pymongo import MongoClient, monitoring

from shared import clock
from shared.bootstrap import Deps
from shared.clock import epoch_ms_of
from shared.counters import COUNTERS, CounterStore
from shared.intake import create_jobs
from shared.model import NewJob
from shared.states import WAITING, Status
from shared.store import JOBS, JobStore


class Finds(monitoring.CommandListener):
    """The find commands sent to the jobs collection."""

    def __init__(self) -> None:
        self.commands: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == JOBS:
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def listing(deps: Deps, store_uri: str):
    """Pages of the jobs listing, each with the query plans of the finds it sent."""
    create_jobs(deps, [NewJob("sms", f"+23480123456{n:02d}", "hi") for n in range(30)], "acme")
    finds = Finds()
    client: MongoClient = MongoClient(store_uri, event_listeners=[finds], tz_aware=True)
    db = client[deps.settings.mongodb_db]

    def plans(call=None, **page) -> list[str]:
        finds.commands.clear()
        jobs = JobStore(db[JOBS], CounterStore(db[COUNTERS]))
        if call is None:
            jobs.page("acme", page.pop("filters", {}), 11, **page)
        else:
            call(jobs)
        assert finds.commands
        return [str(db.command("explain", {k: v for k, v in c.items() if not k.startswith("$") and k != "lsid"})
                    ["queryPlanner"]["winningPlan"]) for c in finds.commands]

    yield plans
    client.close()


@pytest.mark.parametrize("filters", [{}, {"status": "queued"}, {"type": "sms"}, {"recipient": "+2348012345601"},
                                     {"status": "queued", "type": "sms"}, {"recipient": "+2348012345601", "status": "queued"}])
def test_a_filtered_page_and_the_next_one_are_read_through_an_index(listing, deps, filters):
    first = deps.jobs.page("acme", filters, 11)
    cursor = (epoch_ms_of(first[-1].created_at), first[-1].id)
    for plan in [*listing(filters=filters), *listing(filters=filters, after=cursor),
                 *listing(filters=filters, since_ms=cursor[0] - 60_000)]:
        assert "USING INDEX" in plan and "SCAN" not in plan.replace("SEARCH", ""), plan


def test_a_bulk_retry_reads_the_failed_jobs_through_an_index(listing):
    for filters in ({}, {"type": "sms"}, {"recipient": "+2348012345601"}):
        for plan in listing(lambda jobs, f=filters: jobs.retry_failed("acme", f, None, 5, {})):
            assert "USING INDEX" in plan and "SCAN" not in plan.replace("SEARCH", ""), plan


def test_the_sweepers_queries_are_read_through_an_index(listing):
    later = clock.now() + timedelta(seconds=5)
    calls = [lambda jobs: jobs.stale(Status.QUEUED, later, 500), lambda jobs: jobs.expired_leases(500),
             lambda jobs: jobs.oldest_created([Status.PENDING, Status.QUEUED]), lambda jobs: jobs.due(500),
             *((lambda jobs, s=status: jobs.expire_due(s, 500)) for status in WAITING)]
    for call in calls:
        for plan in listing(call):
            assert "USING INDEX" in plan and "SCAN" not in plan.replace("SEARCH", ""), plan
