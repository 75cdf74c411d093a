"""Wiring: builds the stores, publisher and providers from settings, in one place.

The HTTP runner, the consumer loop, the Chalice app and the tests all get their
dependencies from here. Nothing connects until first use.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

from shared.broker import Publisher
from shared.config import CHANNELS, Settings
from shared.counters import COUNTERS, CounterStore
from shared.groupcommit import Batcher
from shared.hookmarks import Mark, events_message
from shared.idempotency import KEYS as IDEMPOTENCY
from shared.idempotency import IdempotencyStore
from shared.model import Job, NewJob
from shared.mongo import connect
from shared.privacystores import AUDITS, ERASURES, TENANTS, AuditStore, ErasureStore, PolicyStore
from shared.providers import (
    MockSettings,
    Provider,
    SesEmailProvider,
    SnsPushProvider,
    SnsSmsProvider,
    mock_provider,
)
from shared.providers.routing import Routing
from shared.ratelimit import BUCKETS, RateLimiter
from shared.retry import RetryPolicy
from shared.store import JOBS, JobStore
from shared.suppressions import SUPPRESSIONS, SuppressionStore
from shared.tenants import KEYS, KeyStore
from shared.topology import LANES, Topology
from shared.turns import TURNS, Turns
from shared.webhooks import DELIVERIES, WEBHOOKS, WebhookStore

log = logging.getLogger("wavecom.bootstrap")


@dataclass
class Deps:
    """Everything a handler needs."""

    settings: Settings
    jobs: JobStore
    publisher: Publisher
    providers: dict[str, list[Provider]]  # each channel's, in the order they are tried
    keys: KeyStore
    limiter: RateLimiter
    idempotency: IdempotencyStore
    turns: Turns
    routing: Routing
    webhooks: WebhookStore
    suppressions: SuppressionStore
    policies: PolicyStore
    erasures: ErasureStore
    audits: AuditStore
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
        self.webhooks.ensure_indexes()
        self.suppressions.ensure_indexes()
        self.erasures.ensure_indexes()
        self.audits.ensure_indexes()

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
    return Topology(queue=settings.queue, delivery_limit=settings.delivery_limit,
                    webhook_delays=settings.webhook_retry_delays_ms)


def watched_queues(settings: Settings) -> list[str]:
    """The queues worth watching: the lanes, the delay queues a first attempt budget of any
    channel may use, and the dead-letter queue."""
    topo, policy = topology(settings), policy_for(settings)
    budget = max(settings.max_attempts_of(channel) for channel in CHANNELS)
    rungs = [r for r in policy.rungs(budget) if r > 0]
    return [*(topo.lane(lane) for lane in LANES), *(topo.delay(r, lane) for lane in LANES for r in rungs), topo.dead]


def providers_for(settings: Settings) -> dict[str, list[Provider]]:
    """Each channel's providers, in the order its setting names them."""
    pool = settings.prefetch  # one pooled AWS connection per delivery in flight
    mocks = {"mock": MockSettings(settings.mock_latency_ms, settings.mock_failure_rate, settings.mock_down_file),
             "mock2": MockSettings(settings.mock2_latency_ms, settings.mock2_failure_rate, settings.mock2_down_file)}

    def make(channel: str, name: str) -> Provider:
        if name in mocks:
            return mock_provider(channel, name, mocks[name], settings.mock_seed, settings.mock_ledger)
        if channel == "email":
            return SesEmailProvider(sender=settings.ses_from, region=settings.aws_region, pool=pool,
                                    configuration_set=settings.ses_configuration_set,
                                    default_subject=settings.email_subject)
        if channel == "sms":
            return SnsSmsProvider(region=settings.aws_region, sms_type=settings.sns_sms_type,
                                  sender_id=settings.sns_sender_id, pool=pool)
        return SnsPushProvider(region=settings.aws_region,
                               platform_application_arn=settings.sns_platform_application_arn, pool=pool)

    return {channel: [make(channel, name) for name in chain] for channel, chain in settings.providers.items()}


def routing_for(settings: Settings) -> Routing:
    """The breakers and provider rates of a process with these settings."""
    return Routing(settings.breaker_failures, settings.breaker_cooldown_ms / 1000, settings.provider_rates,
                   trial_s=settings.lease_ms / 1000)


def policy_for(settings: Settings) -> RetryPolicy:
    """The retry policy these settings describe."""
    return RetryPolicy(base_ms=settings.retry_base_ms, backoff=settings.retry_backoff, max_ms=settings.retry_max_ms)


def build(settings: Settings, providers: dict[str, list[Provider]] | None = None) -> Deps:
    """Wire a fresh set of dependencies for `settings`."""
    db = connect(settings.mongodb_uri, settings.mongodb_db, timeout_ms=settings.store_timeout_ms)
    publisher = Publisher(settings.rabbitmq_url, topology(settings))
    webhooks = WebhookStore(db[WEBHOOKS], db[DELIVERIES])
    suppressions = SuppressionStore(db[SUPPRESSIONS], settings.hash_key)
    if not settings.hash_key:
        log.warning("WAVECOM_HASH_KEY is not set: suppressed recipients are not skipped, and suppressions and "
                    "erasures are refused")

    def listening(tenant: str, event: str) -> bool:
        return bool(webhooks.listening(tenant, event))

    def publish(marks: list[tuple[str, Mark]]) -> None:
        publisher.publish_webhooks([events_message(marks)])

    return Deps(
        settings=settings,
        jobs=JobStore(db[JOBS], CounterStore(db[COUNTERS]), listening, publish,
                      suppressions if settings.hash_key else None),
        publisher=publisher,
        webhooks=webhooks,
        suppressions=suppressions,
        policies=PolicyStore(db[TENANTS]),
        erasures=ErasureStore(db[ERASURES]),
        audits=AuditStore(db[AUDITS]),
        keys=KeyStore(db[KEYS]),
        limiter=RateLimiter(db[BUCKETS], settings.rate_limit, settings.rate_burst),
        idempotency=IdempotencyStore(db[IDEMPOTENCY]),
        turns=Turns(db[TURNS]),
        routing=routing_for(settings),
        providers=providers or providers_for(settings),
        policy=policy_for(settings),
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
