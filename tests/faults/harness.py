"""Real processes for fault tests: the API, workers and the embedded store, started and killed
by PID, with settings short enough to drain in seconds."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from local import embedded_store
from shared.bootstrap import Deps, build
from shared.config import Settings
from shared.providers.mock import read_ledger
from shared.states import TERMINAL
from tests.conftest import wait_for

WAVECOM = str(Path(sys.executable).with_name("wavecom"))


@dataclass
class Stack:
    """One isolated stack of processes: own queue, database, ledger and port."""

    workdir: Path
    store_uri: str
    rabbitmq_url: str
    queue: str
    db: str
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    port: int = field(default_factory=embedded_store.free_port)
    key: str = field(default_factory=lambda: "wck_fault-" + os.urandom(12).hex())

    @property
    def ledger(self) -> Path:
        """Where the mock providers of every worker record deliveries."""
        return self.workdir / "deliveries.jsonl"

    @property
    def base(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment every process of this stack gets."""
        env = {
            **os.environ,
            "MONGODB_URI": self.store_uri,
            "MONGODB_DB": self.db,
            "RABBITMQ_URL": self.rabbitmq_url,
            "WAVECOM_QUEUE": self.queue,
            "WAVECOM_PORT": str(self.port),
            "WAVECOM_MOCK_LEDGER": str(self.ledger),
            "WAVECOM_MOCK_LATENCY_MS": "5",
            "WAVECOM_MOCK_FAILURE_RATE": "0",
            "WAVECOM_RETRY_BASE_MS": "200",
            "WAVECOM_LEASE_MS": "2000",
            "WAVECOM_SWEEP_INTERVAL_MS": "200",
            "WAVECOM_OUTBOX_GRACE_MS": "1000",
            "WAVECOM_STORE_TIMEOUT_MS": "1000",
            "WAVECOM_BOOTSTRAP_KEY": self.key,
            **self.extra_env,
        }
        env.update(overrides)
        return env

    def spawn(self, role: str, **overrides: str) -> subprocess.Popen[bytes]:
        """Start `wavecom <role>` for this stack."""
        log = (self.workdir / f"{role}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([WAVECOM, role], env=self.env(**overrides), stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def api(self) -> subprocess.Popen[bytes]:
        """Start the API and wait until it answers."""
        proc = self.spawn("api")

        def up() -> bool:
            try:
                return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert proc.poll() is None, "the API exited"
                return False

        wait_for(up, timeout=30, interval=0.1, what="the API")
        return proc

    def deps(self) -> Deps:
        """Direct access to this stack's store and broker, for checks."""
        return build(Settings.from_env(self.env()))

    def stop(self) -> None:
        """Stop every process of the stack (by PID), killing what does not stop in time."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        """Everything the stack's processes printed."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


def create_many(stack: Stack, count: int, concurrency: int = 16, **body: object) -> list[httpx.Response]:
    """POST `count` notifications over real HTTP; returns every response."""
    payload = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456", **body}
    with httpx.Client(base_url=stack.base, timeout=30, headers={"Authorization": f"Bearer {stack.key}"}) as client:
        def one(_: int) -> httpx.Response:
            return client.post("/api/notifications", json=payload)

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, range(count)))


@dataclass
class Tally:
    """What happened to a set of jobs, from the store and the providers' ledger."""

    jobs: int
    terminal: int
    by_status: dict[str, int]
    deliveries: collections.Counter[str]
    lease_expired: set[str]
    max_attempts_exceeded: int

    @property
    def lost(self) -> int:
        """Jobs that did not reach a terminal status."""
        return self.jobs - self.terminal

    @property
    def duplicates(self) -> dict[str, int]:
        """Jobs a provider delivered more than once, with their delivery counts."""
        return {j: n for j, n in self.deliveries.items() if n > 1}


def tally(stack: Stack, deps: Deps, job_ids: Iterable[str]) -> Tally:
    """Count final states, deliveries per job, and which jobs had a lease expire."""
    ids = list(job_ids)
    jobs = [deps.jobs.get(j) for j in ids]
    by_status = collections.Counter(j.status.value for j in jobs)
    deliveries = collections.Counter(d.job_id for d in read_ledger(stack.ledger) if d.job_id in set(ids))
    expired = {j for j in ids if any(e.event.value == "lease_expired" for e in deps.jobs.timeline(j))}
    return Tally(
        jobs=len(ids),
        terminal=sum(1 for j in jobs if j.status in TERMINAL),
        by_status=dict(by_status),
        deliveries=deliveries,
        lease_expired=expired,
        max_attempts_exceeded=sum(1 for j in jobs if j.attempts > j.max_attempts),
    )


def wait_terminal(deps: Deps, job_ids: list[str], timeout: float = 90.0) -> None:
    """Wait until every job is in a terminal status."""
    remaining = set(job_ids)

    def done() -> bool:
        for j in list(remaining):
            if deps.jobs.get(j).status in TERMINAL:
                remaining.discard(j)
        return not remaining

    try:
        wait_for(done, timeout=timeout, interval=0.3, what=f"{len(remaining)} jobs to finish")
    except AssertionError:
        stuck = {j: deps.jobs.get(j).status.value for j in list(remaining)[:5]}
        timelines = {j: [e.event.value for e in deps.jobs.timeline(j)] for j in stuck}
        raise AssertionError(f"{len(remaining)} jobs unfinished, e.g. {stuck} {timelines}") from None
