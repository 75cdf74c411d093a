"""The machine's raw ceilings: the broker alone and the store alone, doing a run's work.

Broker: persistent `{"jobId": ...}` messages published in transactions to a temporary quorum
queue while one consumer with the worker's prefetch acks them. Store: each job's work on the
real path, through JobStore itself (insert, mark queued, claim, outcome: each a status and its
timeline entry in one write, the claim's read, the counters written behind), in chunks of
1,000 on a temporary database; the documents it wrote and read are counted, not assumed. Both
are removed afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import pika
import pika.exceptions
from bson import ObjectId
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from shared import timeline
from shared.broker import PERSISTENT, job_message, parameters
from shared.broker import translated as broker_errors
from shared.counters import COUNTERS, CounterStore
from shared.errors import StoreError
from shared.model import NewJob
from shared.mongo import connect, translated
from shared.states import Event, Status
from shared.store import JOBS, JobStore, Outcome
from shared.storework import STORE_WORK

CHUNK = 1000
log = logging.getLogger("wavecom.bench")


@dataclass(frozen=True)
class Ceiling:
    """One raw ceiling: how much work, how long it took, how fast that is."""

    what: str
    jobs: int
    seconds: float
    per_second: float
    detail: dict[str, float]
    scratch: str  # the temporary queue or database, removed afterwards

    def to_json(self) -> dict[str, Any]:
        """The report's form."""
        return asdict(self)


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


def broker_ceiling(url: str, prefix: str, n: int, prefetch: int, batch: int = 100) -> Ceiling:
    """Publish `n` job-sized persistent messages in transactions of `batch` to a queue named
    after `prefix` while a consumer with the worker's prefetch acks each; msgs/s from the first
    publish to the last ack. BrokerUnavailable when the broker fails it."""
    with broker_errors():
        return _broker_ceiling(url, f"{prefix}.bench-ceiling-{uuid.uuid4().hex[:10]}", n, prefetch, batch)


def _broker_ceiling(url: str, queue: str, n: int, prefetch: int, batch: int) -> Ceiling:
    connection = pika.BlockingConnection(parameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        consumed = _Consumer(url, queue, prefetch, n)
        consumed.start()
        # Transactions, as the batch path publishes: the broker's pace, where a confirm awaited
        # per message would measure the round trip of one blocking client instead.
        channel.tx_select()
        body = job_message(str(ObjectId()))
        props = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json")
        started = time.perf_counter()
        for start in range(0, n, batch):
            for _ in range(min(batch, n - start)):
                channel.basic_publish("", queue, body, props)
            channel.tx_commit()
        published = time.perf_counter() - started
        consumed.done.wait(timeout=max(60.0, published * 10))
        total = (consumed.finished_at if consumed.count >= n else time.perf_counter()) - started
        consumed.stop()
        detail = {"publishPerSecond": _rate(n, published), "consumed": float(consumed.count),
                  "transactionSize": float(batch)}
        return Ceiling("broker", n, round(total, 3), _rate(consumed.count, total), detail, queue)
    finally:
        if connection.is_open:
            connection.channel().queue_delete(queue)
            connection.close()


class _Consumer:
    """Consumes and acks on its own connection until `n` messages have arrived."""

    def __init__(self, url: str, queue: str, prefetch: int, n: int) -> None:
        self.count, self.n, self.finished_at = 0, n, 0.0
        self.done, self._stop = threading.Event(), threading.Event()
        self._url, self._queue, self._prefetch = url, queue, prefetch
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-ceiling-consumer", daemon=True)

    def start(self) -> None:
        """Start consuming; returns once the consumer is registered."""
        self._thread.start()
        self._ready.wait(timeout=10)

    def stop(self) -> None:
        """Stop consuming and close the connection."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = pika.BlockingConnection(parameters(self._url))
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self._prefetch)
            channel.basic_consume(self._queue, self._on_message)
            self._ready.set()
            while not self._stop.is_set() and not self.done.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            connection.close()

    def _on_message(self, channel: BlockingChannel, method: Basic.Deliver, _: BasicProperties, __: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        self.count += 1
        if self.count >= self.n:
            self.finished_at = time.perf_counter()
            self.done.set()


def _write_chunk(jobs: JobStore, n: int) -> tuple[float, float]:
    """One chunk of jobs through the store's real path: inserted and marked queued (the API's
    half), then claimed and sent with the entry a mock provider's receipt gives (the worker's);
    the seconds each half took."""
    started = time.perf_counter()
    created = jobs.insert_many([NewJob("sms", "+2348012345678", "Benchmark: your code is 123456")] * n, {"sms": 3}, "bench")
    ids = [job.id for job in created]
    jobs.mark_queued(ids, "bench", {"queue": "bench"})
    accepted = time.perf_counter()
    claimed = jobs.claim_many(ids, "bench", 30_000).claimed
    sent = [Outcome(job, Status.SENT, timeline.entry(Event.SENT, {"attempt": job.attempts, "provider": "mock",
                                                                  "providerMessageId": f"mock-{job.id}"}), {})
            for job in claimed.values()]
    jobs.finish_many(sent)
    return accepted - started, time.perf_counter() - accepted


def store_ceiling(uri: str, prefix: str, n: int) -> Ceiling:
    """Each of `n` jobs' store work on the real path, in bulk chunks, on a temporary database
    named after `prefix`; jobs/s, and the documents and commands per job it took. Each half is
    also timed alone: a drain does only the delivering half (claim and outcome) while the
    worker is measured. StoreError when the store fails it."""
    name = f"{prefix}_bench_ceiling_{uuid.uuid4().hex[:10]}"
    db = connect(uri, name)
    try:
        with translated():
            # The real collections' indexes: keeping them up to date is part of every write.
            jobs = JobStore(db[JOBS], CounterStore(db[COUNTERS]))
            jobs.ensure_indexes()
            before = STORE_WORK.snapshot(name)
            started, accepting, delivering = time.perf_counter(), 0.0, 0.0
            for start in range(0, n, CHUNK):
                halves = _write_chunk(jobs, min(CHUNK, n - start))
                accepting, delivering = accepting + halves[0], delivering + halves[1]
            jobs.counters.flush()
            seconds = time.perf_counter() - started
        work = STORE_WORK.snapshot(name) - before
        written, read = sum(work.written.values()), sum(work.read.values())
        detail = {"chunk": float(CHUNK), "writtenPerJob": round(written / n, 3), "readPerJob": round(read / n, 3),
                  "commandsPerJob": round(sum(work.commands.values()) / n, 4),
                  "writesPerSecond": _rate(written, seconds), "acceptPerSecond": _rate(n, accepting),
                  "deliverPerSecond": _rate(n, delivering)}
        return Ceiling("store", n, round(seconds, 3), _rate(n, seconds), detail, name)
    finally:
        try:
            with translated():
                db.client.drop_database(name)
        except StoreError:
            # The store went away mid-run: that error is the one to report, not this one.
            log.warning("scratch database not dropped", extra={"database": name})
        db.client.close()
