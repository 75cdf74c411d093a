"""Quick looks at the backing services: are they up, how deep are the queues, how old is the
oldest job still waiting. Used by `/ready` and by the scrape-time metrics; each look is bounded
by a short timeout so a service that is down makes it fail fast, never hang."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

import pika
import pika.exceptions
import pymongo
from pika.adapters.blocking_connection import BlockingChannel

from shared.bootstrap import Deps
from shared.broker import parameters
from shared.errors import BrokerUnavailable
from shared.mongo import translated
from shared.states import Status

TIMEOUT_S = 2.0
WAITING = (Status.PENDING, Status.QUEUED, Status.RETRYING)
_NOT_FOUND = 404


class BrokerProbe:
    """Passive queue declarations on one connection, made on first use and kept.

    Separate from the Publisher's connection so a scrape never waits behind a publish, and
    without heartbeats: it only speaks when asked, and a connection found dead is replaced.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages ready in each of `queues` that exists; BrokerUnavailable when unreachable."""
        names = list(queues)
        with self._lock:
            try:
                return self._depths(names)
            except (pika.exceptions.AMQPError, OSError):
                self._reset()  # perhaps a kept connection the broker closed: once more, fresh
            try:
                return self._depths(names)
            except (pika.exceptions.AMQPError, OSError) as e:
                self._reset()
                raise BrokerUnavailable(f"RabbitMQ is unreachable: {type(e).__name__}") from e

    def _depths(self, names: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in names:
            try:
                ok = self._open().queue_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as e:
                self._channel = None  # the broker closes the channel on a failed passive declare
                if e.reply_code == _NOT_FOUND:
                    continue
                raise
            found[name] = int(ok.method.message_count)
        return found

    def _open(self) -> BlockingChannel:
        if self._connection is None or not self._connection.is_open:
            params = parameters(self._url, heartbeat=0)
            params.socket_timeout = TIMEOUT_S
            params.stack_timeout = TIMEOUT_S
            self._connection = pika.BlockingConnection(params)
            self._channel = None
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
        return self._channel

    def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass


_probes: dict[str, BrokerProbe] = {}
_probes_lock = threading.Lock()


def broker_probe(url: str) -> BrokerProbe:
    """The process's probe of the broker at `url`."""
    with _probes_lock:
        return _probes.setdefault(url, BrokerProbe(url))


def watched_queues(deps: Deps) -> list[str]:
    """The main queue, the delay queues a first attempt budget uses, and the dead-letter queue."""
    topology = deps.publisher.topology
    delays = [topology.delay(deps.policy.delay_ms(n)) for n in range(1, deps.settings.max_attempts)]
    return [topology.queue, *delays, topology.dead]


def queue_depths(deps: Deps) -> dict[str, int]:
    """Messages ready in each watched queue that exists; BrokerUnavailable when unreachable."""
    return broker_probe(deps.settings.rabbitmq_url).depths(watched_queues(deps))


def ping_broker(deps: Deps) -> None:
    """Return if the broker answers a passive declaration; BrokerUnavailable otherwise."""
    broker_probe(deps.settings.rabbitmq_url).depths([deps.publisher.topology.queue])


def ping_store(deps: Deps) -> None:
    """Return if the store answers a ping; StoreUnavailable otherwise."""
    with pymongo.timeout(TIMEOUT_S), translated():
        deps.jobs.client.admin.command("ping")


def oldest_waiting_since(deps: Deps) -> datetime | None:
    """When the oldest job still waiting to be sent (pending, queued, retrying) was created."""
    with pymongo.timeout(TIMEOUT_S):
        return deps.jobs.oldest_created(WAITING)
