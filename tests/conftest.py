"""Fixtures shared by every test group: the real store, the real broker, isolated per test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pika
import pytest
from pymongo import MongoClient

from local import embedded_store, rabbit
from local.consumer import Consumer
from local.hookconsumer import HookConsumer
from local.wsgi import make_app
from shared import broker
from shared.bootstrap import Deps, build
from shared.config import Settings
from shared.model import Job
from shared.providers.mock import MockProvider
from shared.topology import Topology

T = TypeVar("T")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", Settings.rabbitmq_url)


# Long enough for a machine running two suites at once: a wait ends as soon as its condition
# holds, so the deadline costs nothing when things go well.
WAIT_SECONDS = 30.0


def wait_for(probe: Callable[[], T | None], timeout: float = WAIT_SECONDS, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded MongoDB-wire store, started once for the session on a free port."""
    proc, uri = embedded_store.start(tmp_path_factory.mktemp("store"))
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The real RabbitMQ on this machine (started if installed and down)."""
    rabbit.ensure(RABBITMQ_URL)
    return RABBITMQ_URL


def delete_queues(url: str, names: list[str]) -> None:
    """Delete queues a test declared (missing ones are fine)."""
    broker.delete_queues(url, names)


def delete_stack_queues(url: str, queue: str) -> None:
    """Delete every queue of the stack whose WAVECOM_QUEUE is `queue`: lanes, delay queues, dead letters."""
    delete_queues(url, Topology(queue).queues())


@contextlib.contextmanager
def process_env(store_uri: str, broker_url: str, name: str, **extra: str) -> Iterator[dict[str, str]]:
    """The environment of `wavecom` processes of a stack of their own: a database and queues
    named after `name`, removed afterwards."""
    db, queue = unique(name).replace("-", "_"), unique(f"{name}-jobs")
    yield {**os.environ, "MONGODB_URI": store_uri, "MONGODB_DB": db, "RABBITMQ_URL": broker_url,
           "WAVECOM_QUEUE": queue, "WAVECOM_HOST": "127.0.0.1", **extra}
    MongoClient(store_uri).drop_database(db)
    delete_stack_queues(broker_url, queue)


@pytest.fixture
def settings(store_uri: str, broker_url: str) -> Settings:
    """Settings of a stack of this test's own: its own database and queue names."""
    return Settings(
        mongodb_uri=store_uri,
        mongodb_uri_set=True,
        mongodb_db=unique("test").replace("-", "_"),
        rabbitmq_url=broker_url,
        queue=unique("test-jobs"),
        retry_base_ms=200,
        mock_latency_ms=0,
        mock_failure_rate=0.0,
        mock2_latency_ms=0,
        mock2_failure_rate=0.0,
        mock_seed=7,
        prefetch=10,
        hash_key="test-hash-key",
        webhook_allow_private=True,  # the tests' receivers listen on loopback
    )


@pytest.fixture
def make_deps(settings: Settings, broker_url: str) -> Iterator[Callable[..., Deps]]:
    """Build dependencies (overrides allowed); everything built is cleaned up after the test."""
    built: list[Deps] = []

    def make(**overrides: Any) -> Deps:
        deps = build(settings.with_overrides(**overrides) if overrides else settings)
        deps.ensure_indexes()
        built.append(deps)
        return deps

    yield make
    for deps in built:
        deps.jobs.client.drop_database(deps.settings.mongodb_db)
        delete_queues(broker_url, deps.publisher.topology.queues())
        deps.close()


@pytest.fixture
def deps(make_deps: Callable[..., Deps]) -> Deps:
    """Dependencies of this test's stack."""
    return make_deps()


@pytest.fixture
def api_for() -> Iterator[Callable[..., httpx.Client]]:
    """HTTP clients for the route table behind the WSGI adapter (no sockets), of given
    dependencies, each holding a fresh API key of the tenant it is asked for."""
    clients: list[httpx.Client] = []

    def client_of(deps: Deps, tenant: str = "default") -> httpx.Client:
        key = deps.keys.create(tenant).key
        transport = httpx.WSGITransport(app=make_app(lambda: deps))
        client = httpx.Client(transport=transport, base_url="http://wavecom.test",
                              headers={"Authorization": f"Bearer {key}"})
        clients.append(client)
        return client

    yield client_of
    for client in clients:
        client.close()


@pytest.fixture
def api_as(deps: Deps, api_for: Callable[..., httpx.Client]) -> Callable[[str], httpx.Client]:
    """HTTP clients of this test's stack, each holding a fresh API key of the tenant asked for."""
    return lambda tenant: api_for(deps, tenant)


@pytest.fixture
def api(api_as: Callable[[str], httpx.Client]) -> httpx.Client:
    """An HTTP client of tenant `default`, the tenant jobs made with `create_job` belong to."""
    return api_as("default")


@contextlib.contextmanager
def loops_in_threads(what: str) -> Iterator[Callable[[Any], Any]]:
    """Start consumer loops (anything with run, stop and a `ready` event) in threads; each is
    stopped and joined afterwards."""
    running: list[tuple[Any, threading.Thread]] = []

    def start(loop: Any) -> Any:
        thread = threading.Thread(target=loop.run, name=what, daemon=True)
        thread.start()
        wait_for(loop.ready.is_set, what=f"the {what} to consume")
        running.append((loop, thread))
        return loop

    yield start
    for loop, thread in running:
        loop.stop()
        thread.join(timeout=20)


@pytest.fixture
def start_worker() -> Iterator[Callable[..., Consumer]]:
    """Start worker loops in threads; each is stopped and joined after the test."""
    with loops_in_threads("worker") as start:
        yield lambda deps, consumer=None: start(consumer or Consumer(deps))


@pytest.fixture
def worker(deps: Deps, start_worker: Callable[[Deps], Consumer]) -> Consumer:
    """A worker consuming this test's queue."""
    return start_worker(deps)


@pytest.fixture
def start_hooks() -> Iterator[Callable[[Deps], HookConsumer]]:
    """Start webhook consumers in threads; each is stopped and joined after the test."""
    with loops_in_threads("webhooks consumer") as start:
        yield lambda deps: start(HookConsumer(deps))


def register_webhook(api: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """Register a webhook endpoint over the API; its JSON, with the secret."""
    answer = api.post("/api/webhooks", json={"url": url, **({"events": events} if events else {})})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def queue_depth(url: str, queue: str) -> int:
    """Messages ready in a queue, as the broker counts them."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def events(deps: Deps, job_id: str) -> list[str]:
    """The event names of a job's timeline, oldest first."""
    return [e.event.value for e in deps.jobs.timeline(job_id)]


def all_jobs(deps: Deps, tenant: str = "default") -> list[Job]:
    """Every job of a tenant (a test's handful), newest first."""
    return deps.jobs.page(tenant, {}, 10_000)


def claim(deps: Deps, job_id: str, owner: str, lease_ms: int) -> Job | None:
    """Claim one job as a worker would; None if it is not claimable."""
    return deps.jobs.claim_many([job_id], owner, lease_ms).claimed.get(job_id)


def provider(deps: Deps, channel: str, name: str = "mock") -> MockProvider:
    """A mock provider of a channel (to count deliveries)."""
    p = next(p for p in deps.providers[channel] if p.name == name)
    assert isinstance(p, MockProvider)
    return p


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep files a person may want to look at (screenshots)."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def quiet_pika() -> None:
    """pika logs each refused connection with a trace; the tests that cause them expect them."""
    import logging

    logging.getLogger("pika").setLevel(logging.CRITICAL)
