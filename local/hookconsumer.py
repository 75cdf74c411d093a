"""`wavecom webhooks`: consumes `<queue>.webhooks` on a connection of its own and delivers each
message's event (shared.hookdelivery) on a pool of WAVECOM_WEBHOOK_CONCURRENCY threads.

Its capacity is its own: a receiver that hangs holds one of these threads for at most the 5 s
timeout, and never a worker's place, its store batches or its provider calls. A message is
acked once handled; a store or broker outage returns it to the queue; one that is not a webhook
message goes to `<queue>.dead`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from shared.bootstrap import Deps
from shared.broker import Link, declare, translated
from shared.errors import BrokerUnavailable, PoisonMessage, StoreUnavailable
from shared.hookdelivery import handle

log = logging.getLogger("wavecom.webhooks")


class HookConsumer:
    """Consumes the webhooks queue until `stop()`; reconnects when the broker goes away."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.concurrency = deps.settings.webhook_concurrency
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._fanout = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="hook-fanout")

    def run(self) -> None:
        """Consume until stopped, reconnecting with backoff after a broker failure."""
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="hook") as pool:
            retrying = Retrying(retry=retry_if_exception_type(BrokerUnavailable), reraise=False,
                                wait=wait_exponential(multiplier=0.5, max=10), stop=stop_when_event_set(self._stopping))
            try:
                retrying(self._consume, pool)
            except RetryError:
                pass
        self._fanout.shutdown(wait=False)
        log.info("webhooks stopped")

    def _consume(self, pool: ThreadPoolExecutor) -> None:
        topology = self.deps.publisher.topology
        link = Link(self.deps.settings.rabbitmq_url)

        def setup(channel: BlockingChannel) -> None:
            declare(channel, topology)
            channel.basic_qos(prefetch_count=self.concurrency)

        try:
            with link.using():
                channel = link.channel(topology.webhooks, setup)
                tag = channel.basic_consume(topology.webhooks, lambda ch, method, props, body: pool.submit(
                    self._handle, link.connection, channel, method, props, body))
                self.ready.set()
                log.info("webhooks consuming", extra={"queue": topology.webhooks, "concurrency": self.concurrency})
                while not self._stopping.is_set():
                    link.connection.process_data_events(time_limit=0.5)
                channel.basic_cancel(tag)
        finally:
            self.ready.clear()
            link.reset()

    def _handle(self, connection: pika.BlockingConnection, channel: BlockingChannel, method: Basic.Deliver,
                properties: BasicProperties, body: bytes) -> None:
        tag = method.delivery_tag
        ack = True
        try:
            handle(self.deps, body, self._fanout)
        except PoisonMessage as e:
            try:
                self.deps.publisher.dead_letter(body, str(e), headers=dict(properties.headers or {}))
            except BrokerUnavailable:
                ack = False
        except (StoreUnavailable, BrokerUnavailable) as e:
            log.warning("webhook message returned: a backing service is away", extra={"error": str(e)})
            self._stopping.wait(1.0)  # not at once: the outage is likely still there
            ack = False
        except Exception:  # the loop's boundary: the message is returned, the consumer stays up
            log.exception("webhook message handling raised; it is returned")
            ack = False

        def settle() -> None:  # on the connection's thread
            if not channel.is_open:
                return
            if ack:
                channel.basic_ack(tag)
            else:
                channel.basic_nack(tag, requeue=True)

        try:
            with translated():
                connection.add_callback_threadsafe(settle)
        except BrokerUnavailable:
            pass  # connection gone: the broker redelivers the message

    def stop(self) -> None:
        """Ask the loop to finish (safe from any thread or a signal handler)."""
        self._stopping.set()
