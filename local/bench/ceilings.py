"""The machine's raw ceilings: the broker alone and the store alone, doing a run's work.

Broker: persistent `{"jobId": ...}` messages published in transactions to a temporary quorum
queue while one consumer with the worker's prefetch acks them. Store: each job's writes on the
real path (the job, its `created` log entry, then queued, sending and sent with their log
entries) done in bulk on a temporary database. Both are removed afterwards.
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
from pymongo import InsertOne, UpdateOne
from pymongo.database import Database

from shared import clock
from shared.broker import PERSISTENT, job_message, parameters
from shared.errors import BrokerUnavailable, StoreError
from shared.mongo import connect, translated
from shared.states import Event, Status
from shared.store import JOBS, LOGS, JobStore, LogStore

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
    try:
        return _broker_ceiling(url, f"{prefix}.bench-ceiling-{uuid.uuid4().hex[:10]}", n, prefetch, batch)
    except (pika.exceptions.AMQPError, OSError) as e:
        raise BrokerUnavailable(f"RabbitMQ failed the ceiling run: {type(e).__name__}") from e


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


def _job_doc(oid: ObjectId, tenant: str) -> dict[str, Any]:
    """The document JobStore.insert writes for a new job."""
    t = clock.now()
    return {
        "_id": oid, "tenant": tenant, "type": "sms", "recipient": "+2348012345678",
        "message": "Benchmark: your code is 123456", "metadata": {}, "status": Status.PENDING.value,
        "attempts": 0, "maxAttempts": 3, "attemptBudget": 3, "lastError": None,
        "createdAt": t, "createdAtMs": clock.epoch_ms_of(t), "updatedAt": t, "__v": 0,
    }


def _logs(ids: list[ObjectId], event: Event, details: dict[str, Any]) -> list[InsertOne[dict[str, Any]]]:
    t = clock.now()
    return [InsertOne({"jobId": str(i), "event": event.value, "details": details, "tenant": "bench",
                       "createdAt": t}) for i in ids]


def _moves(ids: list[ObjectId], source: Status, target: Status, *, fields: dict[str, Any] | None = None,
           inc: dict[str, int] | None = None, unset: tuple[str, ...] = ()) -> list[UpdateOne]:
    """The conditional updates JobStore.move makes, one per job."""
    update: dict[str, Any] = {"$set": {"status": target.value, **(fields or {})}, "$currentDate": {"updatedAt": True}}
    if inc:
        update["$inc"] = inc
    if unset:
        update["$unset"] = {name: "" for name in unset}
    return [UpdateOne({"_id": i, "status": {"$in": [source.value]}}, update) for i in ids]


def _write_chunk(db: Database[dict[str, Any]], ids: list[ObjectId]) -> None:
    jobs, logs = db[JOBS], db[LOGS]
    lease = {"leaseOwner": "bench", "leaseUntilMs": clock.epoch_ms() + 30_000}
    jobs.insert_many([_job_doc(i, "bench") for i in ids], ordered=False)
    logs.bulk_write(_logs(ids, Event.CREATED, {"type": "sms", "recipient": "+234*******678"}), ordered=False)
    jobs.bulk_write(_moves(ids, Status.PENDING, Status.QUEUED), ordered=False)
    logs.bulk_write(_logs(ids, Event.QUEUED, {"queue": "bench"}), ordered=False)
    jobs.bulk_write(_moves(ids, Status.QUEUED, Status.SENDING, fields=lease, inc={"attempts": 1}), ordered=False)
    logs.bulk_write(_logs(ids, Event.SENDING, {"attempt": 1}), ordered=False)
    jobs.bulk_write(_moves(ids, Status.SENDING, Status.SENT, unset=("leaseOwner", "leaseUntilMs")), ordered=False)
    logs.bulk_write(_logs(ids, Event.SENT, {"attempt": 1, "provider": "mock"}), ordered=False)


def store_ceiling(uri: str, prefix: str, n: int) -> Ceiling:
    """Each of `n` jobs' writes on the real path, in bulk chunks, on a temporary database named
    after `prefix`; jobs/s. StoreError when the store fails it."""
    name = f"{prefix}_bench_ceiling_{uuid.uuid4().hex[:10]}"
    db = connect(uri, name)
    try:
        with translated():
            # The real collections' indexes: keeping them up to date is part of every write.
            JobStore(db[JOBS]).ensure_indexes()
            LogStore(db[LOGS]).ensure_indexes()
            started = time.perf_counter()
            for start in range(0, n, CHUNK):
                _write_chunk(db, [ObjectId() for _ in range(min(CHUNK, n - start))])
            seconds = time.perf_counter() - started
        writes = n * 8  # a job, four log entries, three status updates
        detail = {"writesPerSecond": _rate(writes, seconds)}
        return Ceiling("store", n, round(seconds, 3), _rate(n, seconds), detail, name)
    finally:
        try:
            with translated():
                db.client.drop_database(name)
        except StoreError:
            # The store went away mid-run: that error is the one to report, not this one.
            log.warning("scratch database not dropped", extra={"database": name})
        db.client.close()
