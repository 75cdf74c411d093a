"""The RabbitMQ consumer loop that feeds queue messages to the `dispatch` handler.

Messages of the prefetch window are handled concurrently on a thread pool; each is acked
only after its outcome is stored. pika's connection is not thread-safe, so acks travel back to
the connection's thread through `add_callback_threadsafe`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from functions import dispatch
from shared import context
from shared.bootstrap import Deps
from shared.broker import declare, parameters
from shared.delivery import Outcome
from shared.errors import BrokerUnavailable, PoisonMessage, StoreUnavailable
from shared.metrics import DEAD_LETTERED, JOBS, REQUEUED

log = logging.getLogger("wavecom.worker")


class Consumer:
    """Consumes the main queue until `stop()`; reconnects when the broker goes away."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.prefetch = deps.settings.prefetch
        # The window's concurrent deliveries share their store round trips.
        deps.jobs.group_writes()
        deps.logs.group_writes()
        self._stopping = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self.ready = threading.Event()
        self.drain_seconds = 10.0

    def run(self) -> None:
        """Consume until stopped, reconnecting with backoff after a broker failure."""
        backoff = 0.5
        with ThreadPoolExecutor(max_workers=self.prefetch, thread_name_prefix="dispatch") as pool:
            while not self._stopping.is_set():
                try:
                    self._consume(pool)
                    backoff = 0.5
                except (pika.exceptions.AMQPError, OSError) as e:
                    self.ready.clear()
                    log.warning("broker connection lost; reconnecting", extra={"error": type(e).__name__})
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, 10)
        log.info("worker stopped")

    def _consume(self, pool: ThreadPoolExecutor) -> None:
        connection = pika.BlockingConnection(parameters(self.deps.settings.rabbitmq_url))
        self._connection = connection
        try:
            channel = connection.channel()
            declare(channel, self.deps.publisher.topology)
            channel.basic_qos(prefetch_count=self.prefetch)
            on_message = functools.partial(self._on_message, pool, connection)
            tag = channel.basic_consume(self.deps.publisher.topology.queue, on_message)
            self.ready.set()
            log.info("worker consuming", extra={"queue": self.deps.publisher.topology.queue, "prefetch": self.prefetch})
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=0.5)
            # Stop taking messages, then let what is in flight finish and be acked.
            channel.basic_cancel(tag)
            deadline = time.monotonic() + self.drain_seconds
            while self._inflight and time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.1)
            connection.process_data_events(time_limit=0)
        finally:
            self._connection = None
            if connection.is_open:
                connection.close()

    def _on_message(
        self,
        pool: ThreadPoolExecutor,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        with self._inflight_lock:
            self._inflight += 1
        pool.submit(self._handle, connection, channel, method.delivery_tag, properties, body)

    def _handle(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        tag: int,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        # The request that created the job, so this message's log lines carry its id.
        with context.bound(context.from_message(properties.headers)):
            requeue, outcome = self._deliver(properties, body)
            JOBS.labels(outcome).inc()
        self._settle(connection, channel, tag, requeue)

    def _deliver(self, properties: BasicProperties, body: bytes) -> tuple[bool | None, str]:
        """Handle one message: whether to requeue it (None: ack) and the outcome to count."""
        requeue: bool | None = None  # None: ack
        try:
            outcome = self._through_outages(body).value
            log.debug("message handled", extra={"outcome": outcome})
            return None, outcome
        except PoisonMessage as e:
            requeue = self._dead_letter(body, str(e), properties)
        except (StoreUnavailable, BrokerUnavailable) as e:
            # Only when the worker is stopping: give the message back for another worker.
            log.warning("outcome not stored; message returned", extra={"error": str(e)})
            requeue = True
        except Exception as e:  # keep the worker alive; a bug is dead-lettered after bounded tries
            log.exception("handler raised")
            deliveries = int((properties.headers or {}).get("x-delivery-count", 0)) + 1
            if deliveries >= self.deps.settings.delivery_limit:
                requeue = self._dead_letter(body, f"handler error ({type(e).__name__}) after {deliveries} deliveries",
                                            properties)
            else:
                requeue = True
        return requeue, DEAD_LETTERED if requeue is None else REQUEUED

    def _through_outages(self, body: bytes) -> Outcome:
        """Handle a message, waiting out store or broker outages while holding it.

        Requeueing instead would spend the message's delivery count (RabbitMQ dead-letters it
        after WAVECOM_DELIVERY_LIMIT deliveries) on an outage that is not the message's fault.
        Handling again is safe: the claim decides whether anything is still to be done.
        """
        backoff = 0.2
        while True:
            try:
                return dispatch.handle(body, self.deps)
            except (StoreUnavailable, BrokerUnavailable) as e:
                if self._stopping.is_set():
                    raise
                log.warning("store or broker unavailable; holding the message", extra={"error": str(e)})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _dead_letter(self, body: bytes, reason: str, properties: BasicProperties) -> bool | None:
        """Move a message to the dead-letter queue and note it in its job's log, if it has one.

        Returns None (ack) once moved, True (requeue) when the broker could not take it.
        """
        try:
            dispatch.dead_letter(dispatch.Message(body, properties.headers or {}), reason, self.deps)
        except BrokerUnavailable:
            return True
        return None

    def _settle(
        self, connection: pika.BlockingConnection, channel: BlockingChannel, tag: int, requeue: bool | None
    ) -> None:
        def settle() -> None:
            with self._inflight_lock:
                self._inflight -= 1
            if not channel.is_open:
                return  # the broker redelivers what this channel held
            if requeue is None:
                channel.basic_ack(tag)
            else:
                channel.basic_nack(tag, requeue=requeue)

        try:
            connection.add_callback_threadsafe(settle)
        except (pika.exceptions.AMQPError, OSError):
            with self._inflight_lock:
                self._inflight -= 1  # connection gone: the broker redelivers the message

    def stop(self) -> None:
        """Ask the loop to finish (safe from any thread or a signal handler)."""
        self._stopping.set()
