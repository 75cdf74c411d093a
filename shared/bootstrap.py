"""Wiring: builds the stores, publisher and providers from settings, in one place.

The HTTP runner, the consumer loop, the Chalice app and the tests all get their
dependencies from here. Nothing connects until first use.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

from shared.broker import Publisher
from shared.config import Settings
from shared.counters import COUNTERS, CounterStore
from shared.groupcommit import Batcher
from shared.idempotency import KEYS as IDEMPOTENCY
from shared.idempotency import IdempotencyStore
from shared.model import Job, NewJob
from shared.mongo import connect
from shared.providers import (
    Provider,
    SesEmailProvider,
    SnsPushProvider,
    SnsSmsProvider,
    mock_providers,
)
from shared.ratelimit import BUCKETS, RateLimiter
from shared.retry import RetryPolicy
from shared.store import JOBS, JobStore
from shared.tenants import KEYS, KeyStore
from shared.topology import Topology


@dataclass
class Deps:
    """Everything a handler needs."""

    settings: Settings
    jobs: JobStore
    publisher: Publisher
    providers: dict[str, Provider]
    keys: KeyStore
    limiter: RateLimiter
    idempotency: IdempotencyStore
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # Concurrent single creates sharing their writes (shared.intake.group_creates), or None.
    creates: Batcher[tuple[NewJob, str], Job] | None = None
    # Who holds a lease: unique per process (and per Deps, so tests can run two "workers").
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    def ensure_indexes(self) -> None:
        """Create the collections' indexes (idempotent; run at start-up)."""
        self.jobs.ensure_indexes()
        self.keys.ensure_indexes()
        self.idempotency.ensure_indexes()

    def prepare_api(self) -> None:
        """What an API process does once before serving: the indexes, and tenant `default`'s
        key when WAVECOM_BOOTSTRAP_KEY is set (idempotent)."""
        self.ensure_indexes()
        if self.settings.bootstrap_key:
            self.keys.ensure("default", self.settings.bootstrap_key)

    def close(self) -> None:
        """Store what is pending and release connections."""
        self.jobs.counters.flush()
        self.publisher.close()
        self.jobs.client.close()


def topology(settings: Settings) -> Topology:
    """The queues of the stack these settings describe."""
    return Topology(queue=settings.queue, delivery_limit=settings.delivery_limit)


def providers_for(settings: Settings) -> dict[str, Provider]:
    """One provider per channel: the mock unless the channel's setting names SES or SNS."""
    chosen = mock_providers(settings.mock_latency_ms, settings.mock_failure_rate, settings.mock_seed, settings.mock_ledger)
    region, pool = settings.aws_region, settings.prefetch  # one pooled connection per delivery in flight
    if settings.email_provider == "ses":
        chosen["email"] = SesEmailProvider(
            sender=settings.ses_from, region=region, configuration_set=settings.ses_configuration_set,
            default_subject=settings.email_subject, pool=pool,
        )
    if settings.sms_provider == "sns":
        chosen["sms"] = SnsSmsProvider(
            region=region, sms_type=settings.sns_sms_type, sender_id=settings.sns_sender_id, pool=pool
        )
    if settings.push_provider == "sns":
        chosen["push"] = SnsPushProvider(
            region=region, platform_application_arn=settings.sns_platform_application_arn, pool=pool
        )
    return chosen


def build(settings: Settings, providers: dict[str, Provider] | None = None) -> Deps:
    """Wire a fresh set of dependencies for `settings`."""
    db = connect(settings.mongodb_uri, settings.mongodb_db, timeout_ms=settings.store_timeout_ms)
    return Deps(
        settings=settings,
        jobs=JobStore(db[JOBS], CounterStore(db[COUNTERS])),
        publisher=Publisher(settings.rabbitmq_url, topology(settings)),
        keys=KeyStore(db[KEYS]),
        limiter=RateLimiter(db[BUCKETS], settings.rate_limit, settings.rate_burst),
        idempotency=IdempotencyStore(db[IDEMPOTENCY]),
        providers=providers or providers_for(settings),
        policy=RetryPolicy(base_ms=settings.retry_base_ms),
    )


_lock = threading.Lock()
_deps: Deps | None = None


def get_deps() -> Deps:
    """The process-wide dependencies, built from the environment on first use."""
    global _deps
    with _lock:
        if _deps is None:
            _deps = build(Settings.from_env())
        return _deps


def override(deps: Deps | None) -> None:
    """Make `get_deps()` return `deps` (tests, embedding); None goes back to the environment."""
    global _deps
    with _lock:
        _deps = deps
