"""RabbitMQ through pika: the one adapter. A `Link` holds a connection (made on first use, made
again after a failure) for whoever needs one: the publisher, the consumer, the queue probe; every
pika error leaves this module as BrokerUnavailable."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from shared import context
from shared.errors import BrokerUnavailable
from shared.model import Priority
from shared.topology import LANES, Topology

PERSISTENT = pika.DeliveryMode.Persistent
REASON_HEADER = "x-wavecom-reason"
_NOT_FOUND = 404


def parameters(url: str, *, heartbeat: int | None = None, timeout_s: float = 5) -> pika.URLParameters:
    """Connection parameters that fail fast instead of hanging when the broker is away."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout_s
    params.stack_timeout = 2 * timeout_s
    params.blocked_connection_timeout = 10
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


@contextmanager
def translated() -> Iterator[None]:
    """Turn pika's exceptions into the library's own."""
    try:
        yield
    except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
        raise BrokerUnavailable(f"RabbitMQ did not confirm the message: {type(e).__name__}") from e
    except (pika.exceptions.AMQPError, OSError) as e:
        raise BrokerUnavailable(f"RabbitMQ is unreachable: {type(e).__name__}") from e


class Link:
    """One connection to RabbitMQ, opened on first use and opened again after a failure, with
    named channels each set up once per connection. Not thread-safe: each user holds its own.

    `quiet_s`: after a failed connect, callers are told at once for this long that the broker
    is away instead of each waiting on a connect (the API stays fast while RabbitMQ is down).
    """

    def __init__(self, url: str, *, heartbeat: int | None = None, timeout_s: float = 5, quiet_s: float = 0.0) -> None:
        self._params = parameters(url, heartbeat=heartbeat, timeout_s=timeout_s)
        self._quiet_s = quiet_s
        self._down_until = 0.0
        self._connection: pika.BlockingConnection | None = None
        self._channels: dict[str, BlockingChannel] = {}
        self.generation = 0  # how many connections were made: what was declared on an older one is gone

    @property
    def connection(self) -> pika.BlockingConnection:
        """The open connection, made now if there is none; BrokerUnavailable if it cannot be."""
        if self._connection is not None and self._connection.is_open:
            return self._connection
        self.reset()
        if time.monotonic() < self._down_until:
            raise BrokerUnavailable("RabbitMQ was unreachable a moment ago")
        try:
            with translated():
                self._connection = pika.BlockingConnection(self._params)
            self.generation += 1
        except BrokerUnavailable:
            self._down_until = time.monotonic() + self._quiet_s
            raise
        return self._connection

    def channel(self, name: str = "", setup: Callable[[BlockingChannel], None] | None = None) -> BlockingChannel:
        """The open channel called `name`, made (and set up) now if there is none."""
        channel = self._channels.get(name)
        if channel is not None and channel.is_open:
            return channel
        with translated():
            channel = self.connection.channel()
            if setup is not None:
                setup(channel)
        self._channels[name] = channel
        return channel

    @contextmanager
    def using(self) -> Iterator[None]:
        """A block of broker work: on any failure the connection is dropped (the next use makes a
        fresh one) and the error leaves as BrokerUnavailable."""
        try:
            with translated():
                yield
        except BrokerUnavailable:
            self.reset()
            raise

    def reset(self) -> None:
        """Drop the connection and its channels."""
        connection, self._connection = self._connection, None
        self._channels.clear()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass


def declare(channel: BlockingChannel, topology: Topology) -> None:
    """Declare the lanes, the dead-letter queue and the webhooks' queue (idempotent)."""
    for lane in LANES:
        channel.queue_declare(topology.lane(lane), durable=True, arguments=topology.lane_arguments())
    channel.queue_declare(topology.dead, durable=True, arguments=topology.dead_arguments())
    channel.queue_declare(topology.webhooks, durable=True, arguments=topology.lane_arguments())


def job_message(job_id: str) -> bytes:
    """The body of a job's queue message."""
    return json.dumps({"jobId": job_id}).encode()


def _with_request_id(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers plus the current request id, so the worker's logs for the job carry it too."""
    request_id = context.current()
    if request_id is None or context.MESSAGE_HEADER in headers:
        return headers
    return {**headers, context.MESSAGE_HEADER: request_id}


def _properties(headers: dict[str, Any]) -> pika.BasicProperties:
    return pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json", headers=headers)


# A second attempt on a fresh connection covers a connection the broker closed while idle.
_once_more = retry(retry=retry_if_exception_type(BrokerUnavailable), stop=stop_after_attempt(2), reraise=True)


class Publisher:
    """Publishes persistent job messages; returns only once RabbitMQ has taken them.

    One connection per process, made on first use and reused; a lock serialises callers
    because a pika connection is not thread-safe.
    """

    RETRY_CONNECT_AFTER_S = 1.0

    def __init__(self, url: str, topology: Topology) -> None:
        self.topology = topology
        self._lock = threading.Lock()
        # No heartbeats: this connection only speaks when it publishes, and a dead one is
        # noticed by the failing publish and replaced.
        self._link = Link(url, heartbeat=0, quiet_s=self.RETRY_CONNECT_AFTER_S)
        self._declared: set[tuple[int, str]] = set()  # (connection generation, delay queue)

    @_once_more
    def publish_jobs(self, job_ids: list[str], *, lanes: Mapping[str, Priority] | None = None, delay_ms: int = 0,
                     request_ids: Mapping[str, str | None] | None = None) -> None:
        """Queue jobs in their lanes (`lanes`, else normal) now, or after `delay_ms` (a rung of
        the ladder) through their lanes' delay queues, in one AMQP transaction: one round trip
        for all of them. Each message carries the id of the request that created its job
        (`request_ids`, else the current one). If the commit fails none count (the jobs stay as
        they are stored, for the sweeper or a redelivery)."""
        current = _properties(_with_request_id({}))
        request_ids, lanes = request_ids or {}, lanes or {}
        with self._lock, self._link.using():
            queues = {lane: self._queue(delay_ms, lane) for lane in {lanes.get(j, Priority.NORMAL) for j in job_ids}}
            channel = self._link.channel("tx", lambda c: c.tx_select())
            for job_id in job_ids:
                request_id = request_ids.get(job_id)
                properties = current if request_id is None else _properties({context.MESSAGE_HEADER: request_id})
                channel.basic_publish("", queues[lanes.get(job_id, Priority.NORMAL)], job_message(job_id), properties)
            channel.tx_commit()

    @_once_more
    def publish_webhooks(self, bodies: list[dict[str, Any]], delay_ms: int = 0) -> None:
        """Queue webhook deliveries (ids only: job, marker, endpoint, attempt) on
        `<queue>.webhooks`, now or after `delay_ms` through its delay queue, in one transaction."""
        properties = _properties({})
        with self._lock, self._link.using():
            channel = self._confirming()  # declares the topology on a fresh connection
            queue = self.topology.webhook_delay(delay_ms)
            if delay_ms > 0 and (self._link.generation, queue) not in self._declared:
                channel.queue_declare(queue, durable=True, arguments=self.topology.webhook_delay_arguments(delay_ms))
                self._declared.add((self._link.generation, queue))
            tx = self._link.channel("tx", lambda c: c.tx_select())
            for body in bodies:
                tx.basic_publish("", queue, json.dumps(body).encode(), properties)
            tx.tx_commit()

    @_once_more
    def dead_letter(self, body: bytes, reason: str, headers: dict[str, Any] | None = None) -> None:
        """Move a message that can never be delivered to the dead-letter queue, with its reason;
        returns once the broker confirmed it."""
        properties = _properties(_with_request_id({**(headers or {}), REASON_HEADER: reason}))
        with self._lock, self._link.using():
            channel = self._confirming()
            channel.basic_publish("", self.topology.dead, body, properties, mandatory=True)

    def _confirming(self) -> BlockingChannel:
        def setup(channel: BlockingChannel) -> None:
            channel.confirm_delivery()
            declare(channel, self.topology)

        return self._link.channel("confirm", setup)

    def _queue(self, delay_ms: int, lane: Priority) -> str:
        """The queue a message of `lane` with this delay goes to, declared once per connection."""
        channel = self._confirming()  # declares the topology on a fresh connection
        queue = self.topology.delay(delay_ms, lane)
        if delay_ms > 0 and (self._link.generation, queue) not in self._declared:
            channel.queue_declare(queue, durable=True, arguments=self.topology.delay_arguments(delay_ms, lane))
            self._declared.add((self._link.generation, queue))
        return queue

    def close(self) -> None:
        """Close the connection, if one is open."""
        with self._lock:
            self._link.reset()


def delete_queues(url: str, names: list[str]) -> None:
    """Delete queues (those never declared are passed over); BrokerUnavailable if the broker
    cannot be reached."""
    link = Link(url)
    try:
        with link.using():
            for name in names:
                try:
                    link.channel("delete").queue_delete(name)
                except pika.exceptions.ChannelClosedByBroker as e:
                    if e.reply_code != _NOT_FOUND:
                        raise
    finally:
        link.reset()


class QueueProbe:
    """Passive queue declarations on a connection of its own (a scrape never waits behind a
    publish), without heartbeats: it speaks only when asked, and a dead one is replaced."""

    TIMEOUT_S = 2.0

    def __init__(self, url: str) -> None:
        self._lock = threading.Lock()
        self._link = Link(url, heartbeat=0, timeout_s=self.TIMEOUT_S)

    @_once_more
    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages ready in each of `queues` that exists; BrokerUnavailable when unreachable."""
        found: dict[str, int] = {}
        with self._lock, self._link.using():
            for name in queues:
                try:
                    ok = self._link.channel("probe").queue_declare(name, passive=True)
                except pika.exceptions.ChannelClosedByBroker as e:
                    if e.reply_code == _NOT_FOUND:  # the broker closes the channel on a failed passive declare
                        continue
                    raise
                found[name] = int(ok.method.message_count)
        return found
