"""The HTTP driver: concurrent clients creating jobs through the API, one by one or in batches.

Plain `http.client` on threads, one keep-alive connection per client: the bench shares the
machine with the stack it measures, so its own cost per request is kept low.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CREATE = "/api/notifications"
BATCH = "/api/notifications/batch"
MAX_RETRY_AFTER_S = 5.0

# Synthetic recipients only (documentation examples), one per channel in turn, so the run
# never carries personal data and each channel's provider gets a third of the jobs.
PAYLOADS: tuple[dict[str, Any], ...] = (
    {"type": "sms", "recipient": "+2348012345678", "message": "Benchmark: your code is 123456"},
    {"type": "email", "recipient": "bench@example.com", "message": "Benchmark: your code is 123456"},
    {"type": "push", "recipient": "bench-device-token", "message": "Benchmark: your code is 123456"},
)

OnAccepted = Callable[[list[str]], None]


@dataclass(frozen=True)
class Plan:
    """What to send: how, how much, how fast, until when."""

    url: str
    key: str
    mode: str = "single"  # or "batch"
    batch_size: int = 100
    concurrency: int = 50
    jobs: int | None = None  # a fixed number of jobs, or
    duration_s: float | None = None  # as many as fit in this many seconds
    deadline: float = float("inf")  # time.monotonic() after which nothing new is sent
    stop: threading.Event = field(default_factory=threading.Event, compare=False)  # set: send no more

    @property
    def per_request(self) -> int:
        """Jobs in one request."""
        return self.batch_size if self.mode == "batch" else 1


@dataclass
class Load:
    """What the clients saw."""

    started: float = 0.0  # epoch seconds
    finished: float = 0.0
    ids: list[str] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)  # epoch seconds, one per accepted job
    latencies_ms: list[float] = field(default_factory=list)  # of requests answered 2xx
    statuses: Counter[int] = field(default_factory=Counter)  # per HTTP answer, 429s included
    rejected_items: int = 0  # items a batch refused, or single creates answered 4xx/5xx
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type

    @property
    def requests(self) -> int:
        """HTTP answers received."""
        return sum(self.statuses.values())


class _Quota:
    """Hands out jobs to the clients: a fixed number, or any number until the time is up."""

    def __init__(self, plan: Plan) -> None:
        self._stop = plan.stop
        self._left = plan.jobs
        self._lock = threading.Lock()
        until = time.monotonic() + plan.duration_s if plan.duration_s is not None else float("inf")
        self._until = min(until, plan.deadline)

    def take(self, wanted: int) -> int:
        if self.expired():
            return 0
        if self._left is None:
            return wanted
        with self._lock:
            n = min(wanted, self._left)
            self._left -= n
            return n

    def expired(self) -> bool:
        return self._stop.is_set() or time.monotonic() >= self._until


def _body(plan: Plan, n: int, seq: int) -> bytes:
    if plan.mode == "batch":
        return json.dumps([PAYLOADS[(seq + i) % len(PAYLOADS)] for i in range(n)]).encode()
    return json.dumps(PAYLOADS[seq % len(PAYLOADS)]).encode()


def _accepted(plan: Plan, status: int, data: bytes) -> tuple[list[str], int]:
    """Ids the answer accepted, and how many items it refused."""
    if plan.mode == "single":
        return ([json.loads(data)["id"]], 0) if status == 201 else ([], 1)
    if status not in (201, 207, 400) or not data.startswith(b"{"):
        return [], 0
    items = json.loads(data).get("items", [])
    # An accepted item carries the job's id; a refused one carries its field errors instead.
    ids = [str(item["id"]) for item in items if item.get("id") and not item.get("errors")]
    return ids, len(items) - len(ids)


class _Client:
    """One simulated API client: a keep-alive connection and its own tallies."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        parts = urlsplit(plan.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path = BATCH if plan.mode == "batch" else CREATE
        self._headers = {"Authorization": f"Bearer {plan.key}", "Content-Type": "application/json"}
        self._conn: http.client.HTTPConnection | None = None
        self.load = Load()

    def _post(self, body: bytes) -> tuple[int, str | None, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
        self._conn.request("POST", self._path, body, self._headers)
        response = self._conn.getresponse()
        return response.status, response.getheader("Retry-After"), response.read()

    def run(self, quota: _Quota, seq: int, on_accepted: OnAccepted) -> Load:
        """Send until the quota is used up."""
        while (n := quota.take(self.plan.per_request)) > 0:
            body = _body(self.plan, n, seq)
            seq += n
            self._send(body, quota, on_accepted)
        if self._conn is not None:
            self._conn.close()
        return self.load

    def _send(self, body: bytes, quota: _Quota, on_accepted: OnAccepted) -> None:
        while True:
            started = time.perf_counter()
            try:
                status, retry_after, data = self._post(body)
            except (OSError, http.client.HTTPException) as e:
                # Not sent again: without an idempotency key a retry could create a job twice.
                self.load.errors[type(e).__name__] += 1
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.load.statuses[status] += 1
            if status == 429 and not quota.expired():
                # Over the tenant's rate limit: wait as told, then send the same jobs again.
                time.sleep(min(float(retry_after or 1), MAX_RETRY_AFTER_S))
                continue
            if 200 <= status < 300:
                self.load.latencies_ms.append(elapsed_ms)
            ids, refused = _accepted(self.plan, status, data)
            at = time.time()
            self.load.ids.extend(ids)
            self.load.accepted_at.extend([at] * len(ids))
            self.load.rejected_items += refused
            if ids:
                on_accepted(ids)
            return


def drive(plan: Plan, on_accepted: OnAccepted) -> Load:
    """Run `plan.concurrency` clients until the jobs are sent or the time is up; merge what
    they saw. `on_accepted` gets each answer's accepted ids as they arrive."""
    quota = _Quota(plan)
    clients = [_Client(plan) for _ in range(plan.concurrency)]
    total = Load(started=time.time())
    with ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="bench-client") as pool:
        futures = [pool.submit(c.run, quota, i, on_accepted) for i, c in enumerate(clients)]
        loads = [f.result() for f in futures]
    total.finished = time.time()
    for part in loads:
        total.ids.extend(part.ids)
        total.accepted_at.extend(part.accepted_at)
        total.latencies_ms.extend(part.latencies_ms)
        total.statuses.update(part.statuses)
        total.rejected_items += part.rejected_items
        total.errors.update(part.errors)
    return total
