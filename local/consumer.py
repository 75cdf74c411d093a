"""The RabbitMQ consumer loop that feeds batches of queue messages to the delivery library.

One consumer per priority lane (`<queue>.high`, `<queue>`, `<queue>.low`), each on a channel of
its own with its own prefetch, all on one connection whose thread waits for what the broker
pushes (no polling): a backlog in one lane never holds up another, since each lane's window of
unacked messages is its own. Messages of a lane arriving together (within a couple of
milliseconds, up to half its window) are handled as one batch on a pool thread; several batches
may be in flight at once. Each message is settled only after its outcome is stored, as
`shared.acking.decide` says. pika's connection is not thread-safe, so settlements travel back to
the connection's thread through `add_callback_threadsafe`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
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
from shared.model import Priority
from shared.topology import LANES, Topology

log = logging.getLogger("wavecom.worker")
Batch = list[tuple[int, Message]]


class _Lane:
    """One lane's consumer: its channel, the messages it buffers for the next batch, and the
    delivery tags it has not settled (the connection's thread only)."""

    def __init__(self, priority: Priority, queue: str, prefetch: int, max_batch: int | None) -> None:
        self.priority, self.queue, self.prefetch = priority, queue, prefetch
        # Half the window: batches in different stages at once (one claiming in the store while
        # another waits on providers) deliver more than one whole window moving in step.
        self.max_batch = max_batch or max(1, prefetch // 2)
        self.channel: BlockingChannel | None = None
        self.tag = ""
        self.buffer: Batch = []
        self.first_at = 0.0
        # Delivery tags received and not yet settled, in order, and those of them settled: an ack
        # waiting to go out (True) or one already sent (False). Acks in order go out as one
        # `multiple` ack; a batch that finishes before an earlier one acks its own messages at
        # once, so a slow batch never holds up the window.
        self.unsettled: deque[int] = deque()
        self.settled: dict[int, bool] = {}

    def reset(self) -> None:
        """Forget what the lost connection held: the broker redelivers it."""
        self.channel, self.buffer, self.unsettled, self.settled = None, [], deque(), {}


class Consumer:
    """Consumes every lane until `stop()`; reconnects when the broker goes away."""

    DRAIN_SECONDS = 10.0  # how long a stopping worker lets what it holds finish

    def __init__(self, deps: Deps, *, linger_s: float = 0.002, max_batch: int | None = None) -> None:
        self.deps = deps
        topology = deps.publisher.topology
        self.lanes = [_Lane(p, topology.lane(p), deps.settings.prefetch_of(p.value), max_batch) for p in LANES]
        self.prefetch = sum(lane.prefetch for lane in self.lanes)
        self.linger_s = linger_s
        self.ready = threading.Event()
        self._stopping = threading.Event()

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
        try:
            with link.using():
                for lane in self.lanes:
                    lane.channel = link.channel(lane.queue, self._setup(topology, lane.prefetch))
                    lane.tag = lane.channel.basic_consume(lane.queue, functools.partial(self._on_message, lane))
                self.ready.set()
                log.info("worker consuming", extra={"queues": [lane.queue for lane in self.lanes],
                                                    "prefetch": [lane.prefetch for lane in self.lanes]})
                while not self._stopping.is_set():
                    wait = min(self._dispatch(pool, link, lane) for lane in self.lanes)
                    link.connection.process_data_events(time_limit=wait)
                # Stop taking messages; give back what was not started, finish and settle the rest.
                for lane in self.lanes:
                    assert lane.channel is not None
                    lane.channel.basic_cancel(lane.tag)
                    self._settle(lane, lane.buffer, [Action.REQUEUE] * len(lane.buffer), lane.channel)
                    lane.buffer = []
                deadline = time.monotonic() + self.DRAIN_SECONDS
                while any(lane.unsettled for lane in self.lanes) and time.monotonic() < deadline:
                    link.connection.process_data_events(time_limit=0.1)
        finally:
            self.ready.clear()
            for lane in self.lanes:
                lane.reset()
            link.reset()

    @staticmethod
    def _setup(topology: Topology, prefetch: int) -> Callable[[BlockingChannel], None]:
        def setup(channel: BlockingChannel) -> None:
            declare(channel, topology)
            channel.basic_qos(prefetch_count=prefetch)

        return setup

    def _on_message(self, lane: _Lane, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                    body: bytes) -> None:
        if not lane.buffer:
            lane.first_at = time.monotonic()
        lane.buffer.append((method.delivery_tag, Message(body, properties.headers or {})))
        lane.unsettled.append(method.delivery_tag)

    def _dispatch(self, pool: ThreadPoolExecutor, link: Link, lane: _Lane) -> float:
        """Start a lane's buffered messages in batches once a batch is full or has lingered; how
        long the connection may wait for more."""
        while lane.buffer:
            due = lane.first_at + self.linger_s - time.monotonic()
            if len(lane.buffer) < lane.max_batch and due > 0:
                return due
            batch, lane.buffer = lane.buffer[:lane.max_batch], lane.buffer[lane.max_batch:]
            pool.submit(self._handle, link.connection, lane, batch)
        return 0.5

    def _handle(self, connection: pika.BlockingConnection, lane: _Lane, batch: Batch) -> None:
        messages = [message for _, message in batch]
        channel = lane.channel
        try:
            results = handle_through_outages(self.deps, messages, stop=stop_when_event_set(self._stopping))
            actions = [self._carry_out(decide(r, m.deliveries, self.deps.settings.delivery_limit), m)
                       for r, m in zip(results, messages, strict=True)]
        except Exception:  # the loop's boundary: every message is settled, the worker stays up
            log.exception("batch handling raised; its messages are returned")
            actions = [Action.REQUEUE] * len(batch)
        try:
            with translated():
                connection.add_callback_threadsafe(lambda: self._settle(lane, batch, actions, channel))
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

    def _settle(self, lane: _Lane, batch: Batch, actions: list[Action], channel: BlockingChannel | None) -> None:
        """Settle a batch of `lane` received on `channel` (a channel since replaced, or closed,
        settles nothing: the broker redelivers what it held)."""
        current = channel is lane.channel
        if channel is None or not current or not channel.is_open:
            return
        for (tag, _), action in zip(batch, actions, strict=True):
            if action is not Action.ACK:
                channel.basic_nack(tag, requeue=True)
            lane.settled[tag] = action is Action.ACK
        last_ack = None
        while lane.unsettled and lane.unsettled[0] in lane.settled:
            tag = lane.unsettled.popleft()
            if lane.settled.pop(tag):
                last_ack = tag
        if last_ack is not None:
            # Every tag up to it is settled: one frame acks those not yet acked or nacked.
            channel.basic_ack(last_ack, multiple=True)
        for tag, _ in batch:
            if lane.settled.get(tag):  # behind a batch still running: acked now, on its own
                channel.basic_ack(tag)
                lane.settled[tag] = False

    def stop(self) -> None:
        """Ask the loop to finish (safe from any thread or a signal handler)."""
        self._stopping.set()
