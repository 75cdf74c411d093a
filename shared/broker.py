"""RabbitMQ through pika: connections, declarations and confirmed publishing."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from shared import context
from shared.errors import BrokerUnavailable
from shared.topology import Topology

PERSISTENT = pika.DeliveryMode.Persistent
REASON_HEADER = "x-wavecom-reason"


def parameters(url: str, *, heartbeat: int | None = None) -> pika.URLParameters:
    """Connection parameters that fail fast instead of hanging when the broker is away."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.stack_timeout = 10
    params.blocked_connection_timeout = 10
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


def declare(channel: BlockingChannel, topology: Topology) -> None:
    """Declare the main and dead-letter queues (idempotent)."""
    channel.queue_declare(topology.queue, durable=True, arguments=topology.main_arguments())
    channel.queue_declare(topology.dead, durable=True, arguments=topology.dead_arguments())


def job_message(job_id: str) -> bytes:
    """The body of a job's queue message."""
    return json.dumps({"jobId": job_id}).encode()


def _with_request_id(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers plus the current request id, so the worker's logs for the job carry it too."""
    request_id = context.current()
    if request_id is None or context.MESSAGE_HEADER in headers:
        return headers
    return {**headers, context.MESSAGE_HEADER: request_id}


class Publisher:
    """Publishes persistent job messages and waits for the broker's confirm.

    One connection per process, made on first use and reused; a lock serialises callers
    because a pika connection is not thread-safe.
    """

    # After a failed connection, callers are told at once that the broker is away for this
    # long instead of each waiting on a connect: the API keeps answering quickly (jobs stay
    # `pending` and the sweeper queues them) while RabbitMQ is down or unreachable.
    RETRY_CONNECT_AFTER_S = 1.0

    def __init__(self, url: str, topology: Topology) -> None:
        self._url = url
        self.topology = topology
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._tx_channel: BlockingChannel | None = None
        self._declared: set[str] = set()

    def publish_job(self, job_id: str, *, delay_ms: int = 0, headers: dict[str, Any] | None = None) -> None:
        """Queue a job now, or after `delay_ms` through its delay queue; returns once confirmed."""
        queue = self.topology.queue if delay_ms <= 0 else self.topology.delay(delay_ms)
        self._publish(queue, job_message(job_id), _with_request_id(headers or {}), delay_ms)

    @retry(retry=retry_if_exception_type(BrokerUnavailable), stop=stop_after_attempt(2), reraise=True)
    def publish_jobs(self, job_ids: list[str]) -> None:
        """Queue many jobs in one AMQP transaction: one round trip instead of one confirm each.

        The commit returns once the queues have taken every message; if it fails none count
        and the jobs stay `pending` for the sweeper.
        """
        headers = _with_request_id({})
        properties = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json", headers=headers)
        with self._lock:
            try:
                self._open()
                if self._tx_channel is None or not self._tx_channel.is_open:
                    assert self._connection is not None
                    self._tx_channel = self._connection.channel()
                    self._tx_channel.tx_select()
                for job_id in job_ids:
                    self._tx_channel.basic_publish("", self.topology.queue, job_message(job_id), properties)
                self._tx_channel.tx_commit()
            except (pika.exceptions.AMQPError, OSError) as e:
                self._reset()
                raise BrokerUnavailable(f"RabbitMQ did not take the batch: {type(e).__name__}") from e

    def dead_letter(self, body: bytes, reason: str, headers: dict[str, Any] | None = None) -> None:
        """Move a message that can never be delivered to the dead-letter queue, with its reason."""
        self._publish(self.topology.dead, body, _with_request_id({**(headers or {}), REASON_HEADER: reason}), 0)

    @retry(retry=retry_if_exception_type(BrokerUnavailable), stop=stop_after_attempt(2), reraise=True)
    def _publish(self, queue: str, body: bytes, headers: dict[str, Any], delay_ms: int) -> None:
        # A second attempt on a fresh connection covers a connection the broker closed while idle.
        with self._lock:
            try:
                channel = self._open()
                if delay_ms > 0 and queue not in self._declared:
                    channel.queue_declare(queue, durable=True, arguments=self.topology.delay_arguments(delay_ms))
                    self._declared.add(queue)
                channel.basic_publish(
                    exchange="",
                    routing_key=queue,
                    body=body,
                    properties=pika.BasicProperties(
                        delivery_mode=PERSISTENT, content_type="application/json", headers=headers
                    ),
                    mandatory=True,
                )
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
                self._reset()
                raise BrokerUnavailable(f"RabbitMQ did not confirm the message: {type(e).__name__}") from e
            except (pika.exceptions.AMQPError, OSError) as e:
                self._reset()
                raise BrokerUnavailable(f"RabbitMQ is unreachable: {type(e).__name__}") from e

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._reset()
        if time.monotonic() < self._down_until:
            raise BrokerUnavailable("RabbitMQ was unreachable a moment ago")
        # No heartbeats: this connection only speaks when it publishes, and a dead one is
        # noticed by the failing publish and replaced.
        try:
            self._connection = pika.BlockingConnection(parameters(self._url, heartbeat=0))
        except (pika.exceptions.AMQPError, OSError):
            self._down_until = time.monotonic() + self.RETRY_CONNECT_AFTER_S
            raise
        channel = self._connection.channel()
        channel.confirm_delivery()
        declare(channel, self.topology)
        self._channel = channel
        return channel

    def _reset(self) -> None:
        connection, self._connection, self._channel, self._tx_channel = self._connection, None, None, None
        self._declared.clear()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def close(self) -> None:
        """Close the connection, if one is open."""
        with self._lock:
            self._reset()
