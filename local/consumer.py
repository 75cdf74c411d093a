"""The RabbitMQ consumer loop that feeds batches of queue messages to the delivery library.

Messages arriving together (within a couple of milliseconds, up to the prefetch window) are
handled as one batch on a pool thread; several batches may be in flight at once. Each message
is settled only after its outcome is stored, as `shared.acking.decide` says. pika's connection
is not thread-safe, so settlements travel back to the connection's thread through
`add_callback_threadsafe`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from shared.acking import Action, Decision, decide
from shared.bootstrap import Deps
from shared.broker import Link, declare, translated
from shared.errors import BrokerUnavailable
from shared.messages import Message, dead_letter, handle_through_outages
from shared.metrics import DEAD_LETTERED, JOBS, REQUEUED

log = logging.getLogger("wavecom.worker")
Batch = list[tuple[int, Message]]


class Consumer:
    """Consumes the main queue until `stop()`; reconnects when the broker goes away."""

    DRAIN_SECONDS = 10.0  # how long a stopping worker lets what it holds finish

    def __init__(self, deps: Deps, *, linger_s: float = 0.002, max_batch: int | None = None) -> None:
        self.deps = deps
        self.prefetch = deps.settings.prefetch
        self.linger_s = linger_s
        # Half the window: batches in different stages at once (one claiming in the store while
        # another waits on providers) deliver more than one whole window moving in step.
        self.max_batch = max_batch or max(1, self.prefetch // 2)
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._buffer: Batch = []
        self._first_at = 0.0
        # Delivery tags received and not yet settled, in order, and those of them settled: an ack
        # waiting to go out (True) or one already sent (False). Acks in order go out as one
        # `multiple` ack; a batch that finishes before an earlier one acks its own messages at
        # once, so a slow batch never holds up the window. (The connection's thread only.)
        self._unsettled: deque[int] = deque()
        self._settled: dict[int, bool] = {}

    def run(self) -> None:
        """Consume until stopped, reconnecting with backoff after a broker failure."""
        def lost(state: RetryCallState) -> None:
            self.ready.clear()
            error = state.outcome.exception() if state.outcome else None
            log.warning("broker connection lost; reconnecting", extra={"error": str(error)})

        with ThreadPoolExecutor(max_workers=self.prefetch, thread_name_prefix="deliver") as pool:
            retrying = Retrying(retry=retry_if_exception_type(BrokerUnavailable), before_sleep=lost, reraise=False,
                                wait=wait_exponential(multiplier=0.5, max=10), stop=stop_when_event_set(self._stopping))
            try:
                retrying(self._consume, pool)
            except RetryError:
                pass  # stopped while the broker was away
        log.info("worker stopped")

    def _consume(self, pool: ThreadPoolExecutor) -> None:
        topology = self.deps.publisher.topology
        link = Link(self.deps.settings.rabbitmq_url)

        def setup(channel: BlockingChannel) -> None:
            declare(channel, topology)
            channel.basic_qos(prefetch_count=self.prefetch)

        try:
            with link.using():
                channel = link.channel("consume", setup)
                tag = channel.basic_consume(topology.queue, self._on_message)
                self.ready.set()
                log.info("worker consuming", extra={"queue": topology.queue, "prefetch": self.prefetch})
                while not self._stopping.is_set():
                    link.connection.process_data_events(time_limit=self._dispatch(pool, link, channel))
                # Stop taking messages; give back what was not started, finish and settle the rest.
                channel.basic_cancel(tag)
                self._settle(channel, self._buffer, [Action.REQUEUE] * len(self._buffer))
                self._buffer = []
                deadline = time.monotonic() + self.DRAIN_SECONDS
                while self._unsettled and time.monotonic() < deadline:
                    link.connection.process_data_events(time_limit=0.1)
        finally:
            self.ready.clear()
            # The broker redelivers whatever this connection held.
            self._buffer, self._unsettled, self._settled = [], deque(), {}
            link.reset()

    def _on_message(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                    body: bytes) -> None:
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append((method.delivery_tag, Message(body, properties.headers or {})))
        self._unsettled.append(method.delivery_tag)

    def _dispatch(self, pool: ThreadPoolExecutor, link: Link, channel: BlockingChannel) -> float:
        """Start the buffered messages in batches once a batch is full or has lingered; how
        long the connection may wait for more."""
        while self._buffer:
            due = self._first_at + self.linger_s - time.monotonic()
            if len(self._buffer) < self.max_batch and due > 0:
                return due
            batch, self._buffer = self._buffer[:self.max_batch], self._buffer[self.max_batch:]
            pool.submit(self._handle, link.connection, channel, batch)
        return 0.5

    def _handle(self, connection: pika.BlockingConnection, channel: BlockingChannel, batch: Batch) -> None:
        messages = [message for _, message in batch]
        try:
            results = handle_through_outages(self.deps, messages, stop=stop_when_event_set(self._stopping))
            actions = [self._carry_out(decide(r, m.deliveries, self.deps.settings.delivery_limit), m)
                       for r, m in zip(results, messages, strict=True)]
        except Exception:  # the loop's boundary: every message is settled, the worker stays up
            log.exception("batch handling raised; its messages are returned")
            actions = [Action.REQUEUE] * len(batch)
        try:
            with translated():
                connection.add_callback_threadsafe(lambda: self._settle(channel, batch, actions))
        except BrokerUnavailable:
            pass  # connection gone: the broker redelivers the batch

    def _carry_out(self, decision: Decision, message: Message) -> Action:
        """The action left for the broker once the decision's own work is done."""
        if decision.action is Action.DEAD_LETTER:
            try:
                dead_letter(self.deps, message, decision.reason)
            except BrokerUnavailable:
                return Action.REQUEUE  # the broker could not take it: give it back instead
            JOBS.labels(DEAD_LETTERED).inc()
            return Action.ACK
        if decision.action is not Action.ACK:  # HOLD given up: the worker is stopping
            JOBS.labels(REQUEUED).inc()
            return Action.REQUEUE
        return Action.ACK

    def _settle(self, channel: BlockingChannel, batch: Batch, actions: list[Action]) -> None:
        if not channel.is_open:
            return  # the broker redelivers what this channel held
        for (tag, _), action in zip(batch, actions, strict=True):
            if action is not Action.ACK:
                channel.basic_nack(tag, requeue=True)
            self._settled[tag] = action is Action.ACK
        last_ack = None
        while self._unsettled and self._unsettled[0] in self._settled:
            tag = self._unsettled.popleft()
            if self._settled.pop(tag):
                last_ack = tag
        if last_ack is not None:
            # Every tag up to it is settled: one frame acks those not yet acked or nacked.
            channel.basic_ack(last_ack, multiple=True)
        for tag, _ in batch:
            if self._settled.get(tag):  # behind a batch still running: acked now, on its own
                channel.basic_ack(tag)
                self._settled[tag] = False

    def stop(self) -> None:
        """Ask the loop to finish (safe from any thread or a signal handler)."""
        self._stopping.set()
