"""`wavecom bench --mode dashboard`: what an open dashboard costs the stack, at scale.

A fresh tenant is given `--jobs` finished jobs (100,000 by default), stored in bulk with their
counters, as a stack that has been busy for a while holds them. Then every request the page
polls (the newest jobs, each filter, a search, the next page, a job, its timeline, the totals) is
sent in turns on one kept-alive connection, at the page's pace (one request a second,
`--pace-ms`): a request that finds the server idle costs it more than one of a burst, and the
page's requests all do. For each kind the bench reports the API's and the store's CPU per request
(from /proc, read around each request), the documents the API read (its /metrics) and the latency; and, for each list query, the store's own query plan, to show that
none scans the collection. The tenant, its jobs and its key are removed afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pymongo import MongoClient, monitoring

from local import procs
from local.bench import report, scrape, target
from shared import clock, timeline
from shared.config import Settings
from shared.counters import COUNTERS, CounterStore, Tally
from shared.jobdocs import new_job_doc
from shared.model import NewJob
from shared.querying import MAX_LIMIT
from shared.states import Event, Status
from shared.stats import WINDOW_SECONDS
from shared.store import JOBS, JobStore
from static_site.build import PAGE_SIZE

CHUNK = 2000  # jobs stored per bulk insert while seeding
SPACING = timedelta(milliseconds=10)  # between seeded jobs' creation: 100 a second, as a busy stack makes them
MIX = [(Status.SENT, 0.92), (Status.FAILED, 0.06), (Status.CANCELLED, 0.02)]
CHANNELS = [("sms", 0.6), ("email", 0.3), ("push", 0.1)]


@dataclass(frozen=True)
class Poll:
    """One kind of request the dashboard makes, and the list filters it asks for (None: no list)."""

    name: str
    path: str
    filters: dict[str, str] | None = None
    polled: bool = True  # the page asks for it (else: a figure for comparison)


def _pick(rng: random.Random, weights: list[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in weights], [w for _, w in weights])[0]


def _recipient(channel: str, n: int) -> str:
    return {"sms": f"+23480{12_000_000 + n % 900_000:08d}", "email": f"customer{n}@example.com"}.get(
        channel, f"device-token-{n:08x}")


def seed(settings: Settings, tenant: str, jobs: int, rng: random.Random) -> str:
    """Store `jobs` finished jobs of `tenant` with their timelines and counters; one recipient."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.mongodb_db]
        tally, searched, first = Tally(), "", clock.now() - SPACING * jobs
        for start in range(0, jobs, CHUNK):
            docs = []
            for n in range(start, min(jobs, start + CHUNK)):
                channel, status = _pick(rng, CHANNELS), _pick(rng, MIX)
                doc = new_job_doc(NewJob(channel, _recipient(channel, n), f"Your code is {n % 1_000_000:06d}"), 3, tenant)
                at = first + SPACING * n
                end = Event.SENT if status is Status.SENT else Event.FAILED if status is Status.FAILED else Event.CANCELLED
                doc["events"] = [{**doc["events"][0], "at": at},
                                 *(timeline.entry(e, {"attempt": 1}, at) for e in (Event.QUEUED, Event.SENDING, end))]
                doc.update(status=status.value, attempts=0 if status is Status.CANCELLED else 1, createdAt=at,
                           createdAtMs=clock.epoch_ms_of(at), updatedAt=at,
                           lastError="mock provider rejected the recipient" if status is Status.FAILED else None)
                docs.append(doc)
                tally.move(tenant, None, status)
            db[JOBS].insert_many(docs, ordered=False)
            searched = searched or str(docs[len(docs) // 2]["recipient"])
        counters = CounterStore(db[COUNTERS])
        counters.apply(tally)
        counters.flush()
        return searched
    finally:
        client.close()


def busy_window(settings: Settings, tenant: str, ahead_s: int = 1800) -> None:
    """Count a job finished in every second of the chart's window up to now and `ahead_s` on, as for
    a tenant busy all along: the totals then read the most per-second counts they ever read, for
    the whole run."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        tally, now_s = Tally(), int(time.time())
        for second in range(now_s - WINDOW_SECONDS - 60, now_s + ahead_s):
            tally.finishes[(tenant, second)][Status.SENT.value] += 1  # finishes only: the counts stay as they are
        counters = CounterStore(client[settings.mongodb_db][COUNTERS])
        counters.apply(tally)
        counters.flush()
    finally:
        client.close()


def unseed(settings: Settings, tenant: str) -> None:
    """Remove the tenant's jobs and counters."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.mongodb_db]
        db[JOBS].delete_many({"tenant": {"$eq": tenant}})
        db[COUNTERS].delete_many({"tenant": {"$eq": tenant}})
    finally:
        client.close()


class _Finds(monitoring.CommandListener):
    """The find commands a listing sends, to ask the store for their plans."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.commands.append({k: v for k, v in event.command.items() if not k.startswith("$") and k != "lsid"})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def scans(plan: str) -> bool:
    """Whether a winning plan reads the whole collection: MongoDB's COLLSCAN, SQLite's SCAN."""
    return "COLLSCAN" in plan or re.search(r"(?<![A-Z])SCAN(?![A-Z])", plan) is not None


def plans(settings: Settings, tenant: str, filters: dict[str, str]) -> list[str]:
    """The store's plan of each find the API's listing sends for `filters`."""
    finds = _Finds()
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri, event_listeners=[finds], tz_aware=True)
    try:
        db = client[settings.mongodb_db]
        JobStore(db[JOBS], CounterStore(db[COUNTERS])).page(tenant, filters, PAGE_SIZE + 1)
        return [str(db.command("explain", c)["queryPlanner"]["winningPlan"]) for c in finds.commands]
    finally:
        client.close()


class Client:
    """One kept-alive HTTP connection to the API, as a browser tab holds."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def get(self, path: str) -> tuple[int, bytes, str | None]:
        """Status, body and `Link` of a GET."""
        self._conn.request("GET", path, headers=self._headers)
        response = self._conn.getresponse()
        return response.status, response.read(), response.getheader("Link")

    def close(self) -> None:
        self._conn.close()


def _polls(client: Client, searched: str) -> list[Poll]:
    """Every kind of request the page polls, with real ids and cursors of the seeded tenant."""
    page = f"/api/notifications?limit={PAGE_SIZE}"
    status, body, link = client.get(page)
    if status != 200:
        raise target.TargetError(f"the API answered {status} to the listing")
    job = json.loads(body)[PAGE_SIZE // 2]["id"]
    match = re.search(r"<([^>]+)>", link or "")
    polls = [
        Poll(f"newest {PAGE_SIZE}", page, {}),
        Poll("status=failed", f"{page}&status=failed", {"status": "failed"}),
        Poll("type=email", f"{page}&type=email", {"type": "email"}),
        Poll("failed email", f"{page}&status=failed&type=email", {"status": "failed", "type": "email"}),
        Poll("recipient search", f"{page}&recipient={quote(searched)}", {"recipient": searched}),
        Poll("job by id", f"/api/notifications/{job}"),
        Poll("timeline", f"/api/notifications/{job}/logs"),
        Poll("stats", "/api/stats"),
        # Not a poll of the page: the API's largest page, for a client that asks for it.
        Poll(f"newest {MAX_LIMIT} (the API's most)", f"/api/notifications?limit={MAX_LIMIT}", {}, polled=False),
    ]
    if match:
        polls.insert(5, Poll("next page (Load more)", match.group(1)))
    return polls


TAIL_S = 0.02  # after an answer, what the API still does for it (its log line, its metrics)


def documents_read(client: Client, poll: Poll, metrics: str, n: int = 5) -> dict[str, float] | None:
    """The documents the API reads per request of one kind, from its /metrics (a count, not a speed)."""
    before = scrape.fetch(metrics)
    for _ in range(n):
        client.get(poll.path)
    after = scrape.fetch(metrics)
    if before is None or after is None:
        return None
    return {c: round(v / n, 2) for c, v in (after - before).read.items() if v}


@dataclass
class Measured:
    """What the rounds measured of one kind of poll."""

    api_ms: float = 0.0
    store_ms: float = 0.0
    latencies: list[float] | None = None


def rounds(client: Client, polls: list[Poll], n: int, pace_s: float, api: list[int],
           store: list[int]) -> dict[str, Measured]:
    """`n` rounds of every poll, one request `pace_s` after the one before, as the page takes its
    turns. The API's and the store's CPU are read just before each request and just after its
    answer (and its tail), so what they do between requests (heartbeats, the sweeper's reads) is
    not counted, and a pass of theirs that would land in one kind's window spreads over all."""
    measured = {poll.name: Measured(latencies=[]) for poll in polls}
    last = time.monotonic()
    for _ in range(n):
        for poll in polls:
            time.sleep(max(0.0, last + pace_s - time.monotonic()))
            api0, store0 = procs.runtime_ns(api), procs.runtime_ns(store)
            last = time.monotonic()
            status, _, _ = client.get(poll.path)
            answered = time.monotonic()
            if status != 200:
                raise target.TargetError(f"{poll.name}: the API answered {status}")
            time.sleep(TAIL_S)
            figures = measured[poll.name]
            figures.api_ms += procs.runtime_ms(api0, procs.runtime_ns(api))
            figures.store_ms += procs.runtime_ms(store0, procs.runtime_ns(store))
            assert figures.latencies is not None
            figures.latencies.append((answered - last) * 1000)
    return measured


def run(url: str, settings: Settings, jobs: int, requests: int, pace_ms: int, out: Path) -> int:
    """Seed, measure every poll, report; 0 when no poll costs the API 5 ms or more and no list scans."""
    from shared.bootstrap import build

    target.check_loopback(url=url, store=settings.mongodb_uri)
    deps = build(settings)
    tenant = f"bench-dash-{time.strftime('%Y%m%d-%H%M%S')}"
    key = deps.keys.create(tenant).key
    api, store = target.api_pids(urlsplit(url).port or 80), target.store_pids(settings.mongodb_uri)
    rng = random.Random(7)
    client = Client(url, key)
    try:
        started = time.monotonic()
        print(f"seeding {jobs:,} jobs into tenant {tenant} ...", flush=True)
        searched = seed(settings, tenant, jobs, rng)
        busy_window(settings, tenant)
        load_at_start = os.getloadavg()[0]
        polls = _polls(client, searched)
        print(f"seeded in {time.monotonic() - started:.1f} s; {requests} rounds of every poll, one request "
              f"{pace_ms} ms after the other ...", flush=True)
        results: dict[str, dict[str, Any]] = {}
        for poll in polls:
            figures: dict[str, Any] = {"documentsReadPerRequest": documents_read(client, poll, f"{url}/metrics"),
                                       "polledByThePage": poll.polled}
            if poll.filters is not None:
                found = plans(settings, tenant, poll.filters)
                figures["plans"] = found
                figures["scans"] = any(scans(p) for p in found)
            results[poll.name] = figures
        for name, measured in rounds(client, polls, requests, pace_ms / 1000, api, store).items():
            figures = results[name]
            figures.update({"requests": requests, "paceMs": pace_ms,
                            "apiCpuMsPerRequest": round(measured.api_ms / requests, 2),
                            "storeCpuMsPerRequest": round(measured.store_ms / requests, 2),
                            "latencyMs": report.percentiles(measured.latencies or [])})
            print(f"  {name:<30} API {figures['apiCpuMsPerRequest']:5.2f} ms CPU, store "
                  f"{figures['storeCpuMsPerRequest']:5.2f} ms, read {figures['documentsReadPerRequest']}, "
                  f"p50 {figures['latencyMs']['p50']} ms, p99 {figures['latencyMs']['p99']} ms"
                  + (f", {'SCANS' if figures['scans'] else 'index only'}" if "scans" in figures else ""), flush=True)
    finally:
        client.close()
        deps.keys.revoke(key)
        deps.close()
        unseed(settings, tenant)
    full = {"mode": "dashboard", "jobs": jobs, "tenant": tenant, "apiProcesses": len(api), "storeProcesses": len(store),
            "loadAverage1m": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)}, "polls": results}
    report.write_json(out, full)
    worst = max(r["apiCpuMsPerRequest"] for r in results.values() if r["polledByThePage"])
    scanning = [name for name, r in results.items() if r.get("scans")]
    print(f"most API CPU for one poll of the page: {worst:.2f} ms; lists that scan: {', '.join(scanning) or 'none'}; report {out}")
    return 0 if worst < 5 and not scanning else 1
