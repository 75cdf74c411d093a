"""Quick looks at the backing services: are they up, how deep are the queues, how old is the
oldest job still waiting. Used by `/ready` and by the scrape-time metrics; each look is bounded
by a short timeout so a service that is down makes it fail fast, never hang."""

from __future__ import annotations

import threading
from datetime import datetime

import pymongo

from shared.bootstrap import Deps, watched_queues
from shared.broker import QueueProbe
from shared.mongo import translated
from shared.states import Status

TIMEOUT_S = 2.0
UNSENT = (Status.PENDING, Status.QUEUED, Status.RETRYING)  # what the oldest-job gauge looks at


_probes: dict[str, QueueProbe] = {}
_probes_lock = threading.Lock()


def broker_probe(url: str) -> QueueProbe:
    """The process's probe of the broker at `url`."""
    with _probes_lock:
        return _probes.setdefault(url, QueueProbe(url))


def queue_depths(deps: Deps) -> dict[str, int]:
    """Messages ready in each watched queue that exists; BrokerUnavailable when unreachable."""
    return broker_probe(deps.settings.rabbitmq_url).depths(watched_queues(deps.settings))


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
        return deps.jobs.oldest_created(UNSENT)
