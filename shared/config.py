"""Configuration read from the environment, in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.retry import Backoff
from shared.topology import WEBHOOK_RETRY_DELAYS_MS


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


# Which providers may serve each channel; `mock` everywhere unless configured otherwise. The same
# names are used in configuration, events and metrics.
CHANNELS = ("email", "sms", "push")
PROVIDER_CHOICES = {"email": ("mock", "mock2", "ses"), "sms": ("mock", "mock2", "sns"), "push": ("mock", "mock2", "sns")}
PROVIDER_NAMES = ("mock", "mock2", "ses", "sns")
SMS_TYPES = ("Transactional", "Promotional")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")  # SNS: 1-11 alphanumerics, a letter


def _chain(env: Mapping[str, str], channel: str) -> tuple[str, ...]:
    """A channel's providers in order: WAVECOM_<CHANNEL>_PROVIDERS (comma-separated), else the
    single WAVECOM_<CHANNEL>_PROVIDER, else `mock`."""
    plural, single = f"WAVECOM_{channel.upper()}_PROVIDERS", f"WAVECOM_{channel.upper()}_PROVIDER"
    name = plural if env.get(plural) else single
    names = tuple(n.strip().lower() for n in (env.get(name) or "mock").split(","))
    choices = PROVIDER_CHOICES[channel]
    for value in names:
        if value not in choices:
            raise ConfigError(f"{name} must name providers among {', '.join(choices)}, got {value!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{name} names a provider twice: {','.join(names)}")
    return names


def _providers(env: Mapping[str, str]) -> dict[str, Any]:
    """The provider settings, checked together: a real provider needs what it names."""
    chains = {channel: _chain(env, channel) for channel in CHANNELS}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    real = [f"WAVECOM_{c.upper()}_PROVIDERS={','.join(v)}" for c, v in chains.items() if {"ses", "sns"} & set(v)]
    if real and not region:
        raise ConfigError(f"{real[0]} needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)")
    sender = (env.get("WAVECOM_SES_FROM") or "").strip()
    if "ses" in chains["email"] and "@" not in sender:
        raise ConfigError("the email provider ses needs WAVECOM_SES_FROM, a sender address SES has verified")
    sms_type = (env.get("WAVECOM_SNS_SMS_TYPE") or "Transactional").strip().capitalize()
    if sms_type not in SMS_TYPES:
        raise ConfigError(f"WAVECOM_SNS_SMS_TYPE must be one of {', '.join(SMS_TYPES)}, got {sms_type!r}")
    sender_id = (env.get("WAVECOM_SNS_SENDER_ID") or "").strip()
    if sender_id and not _SENDER_ID.match(sender_id):
        raise ConfigError("WAVECOM_SNS_SENDER_ID must be 1-11 letters or digits, at least one a letter")
    application = (env.get("WAVECOM_SNS_PLATFORM_APPLICATION_ARN") or "").strip()
    if application and not (application.startswith("arn:") and ":app/" in application):
        raise ConfigError("WAVECOM_SNS_PLATFORM_APPLICATION_ARN must be an SNS platform application ARN (arn:...:app/...)")
    return {
        "providers": chains,
        "aws_region": region,
        "ses_from": sender,
        "ses_configuration_set": (env.get("WAVECOM_SES_CONFIGURATION_SET") or "").strip(),
        "email_subject": (env.get("WAVECOM_EMAIL_SUBJECT") or "").strip() or Settings.email_subject,
        "sns_sms_type": sms_type,
        "sns_sender_id": sender_id,
        "sns_platform_application_arn": application,
    }


def _delivery_policy(env: Mapping[str, str]) -> dict[str, Any]:
    """Retry backoff, attempts per channel, prefetch per lane, breakers and provider rates."""
    backoff = (env.get("WAVECOM_RETRY_POLICY") or Backoff.LINEAR.value).strip().lower()
    if backoff not in {b.value for b in Backoff}:
        raise ConfigError(f"WAVECOM_RETRY_POLICY must be linear or exponential, got {backoff!r}")
    def down_file(name: str) -> Path | None:
        return Path(env[name]) if env.get(name) else None

    return {
        "retry_backoff": Backoff(backoff),
        "retry_max_ms": _int(env, "WAVECOM_RETRY_MAX_MS", Settings.retry_max_ms, minimum=1),
        # Only what is set: the others follow WAVECOM_MAX_ATTEMPTS and WAVECOM_PREFETCH.
        "channel_max_attempts": {c: _int(env, f"WAVECOM_{c.upper()}_MAX_ATTEMPTS", 1, minimum=1)
                                 for c in CHANNELS if env.get(f"WAVECOM_{c.upper()}_MAX_ATTEMPTS")},
        "lane_prefetch": {lane: _int(env, f"WAVECOM_PREFETCH_{lane.upper()}", 1, minimum=1)
                          for lane in ("high", "low") if env.get(f"WAVECOM_PREFETCH_{lane.upper()}")},
        "breaker_failures": _int(env, "WAVECOM_BREAKER_FAILURES", Settings.breaker_failures, minimum=1),
        "breaker_cooldown_ms": _int(env, "WAVECOM_BREAKER_COOLDOWN_MS", Settings.breaker_cooldown_ms, minimum=1),
        "mock2_latency_ms": _int(env, "WAVECOM_MOCK2_LATENCY_MS", Settings.mock2_latency_ms),
        "mock2_failure_rate": _float(env, "WAVECOM_MOCK2_FAILURE_RATE", Settings.mock2_failure_rate, 0, 1),
        "mock_down_file": down_file("WAVECOM_MOCK_DOWN_FILE"),
        "mock2_down_file": down_file("WAVECOM_MOCK2_DOWN_FILE"),
        "provider_rates": {name: _int(env, f"WAVECOM_{name.upper()}_RATE_PER_WORKER", 0) for name in PROVIDER_NAMES},
    }


def _delays(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """A comma-separated list of delays in milliseconds, each at least 1."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated milliseconds, got {raw!r}") from None
    if any(d < 1 for d in delays):
        raise ConfigError(f"{name} must hold delays of at least 1 ms, got {raw!r}")
    return delays


def _hash_key(env: Mapping[str, str], data_dir: Path) -> str:
    """WAVECOM_HASH_KEY, else the key `wavecom up` keeps in the data directory, else none."""
    key = (env.get("WAVECOM_HASH_KEY") or "").strip()
    path = data_dir / "hash-key"
    if not key and path.exists():
        key = path.read_text().strip()
    return key


def _notifications_back(env: Mapping[str, str], data_dir: Path) -> dict[str, Any]:
    """Webhooks, receipts, suppressions, and how long personal data is kept."""
    flag = (env.get("WAVECOM_WEBHOOK_ALLOW_PRIVATE") or "").strip()
    if flag not in ("", "0", "1"):
        raise ConfigError(f"WAVECOM_WEBHOOK_ALLOW_PRIVATE must be 0 or 1, got {flag!r}")
    topics = tuple(t.strip() for t in (env.get("WAVECOM_SNS_TOPIC_ARNS") or "").split(",") if t.strip())
    for topic in topics:
        if not topic.startswith("arn:") or ":sns:" not in topic:
            raise ConfigError(f"WAVECOM_SNS_TOPIC_ARNS must hold SNS topic ARNs (arn:aws:sns:...), got {topic!r}")
    return {
        "hash_key": _hash_key(env, data_dir),
        "webhook_allow_private": flag == "1",
        "webhook_retry_delays_ms": _delays(env, "WAVECOM_WEBHOOK_RETRY_DELAYS_MS", WEBHOOK_RETRY_DELAYS_MS),
        "webhook_concurrency": _int(env, "WAVECOM_WEBHOOK_CONCURRENCY", Settings.webhook_concurrency, minimum=1),
        "sns_topic_arns": topics,
        "retention_days": _int(env, "WAVECOM_RETENTION_DAYS", Settings.retention_days, minimum=1),
        "redact_after_hours": _int(env, "WAVECOM_REDACT_AFTER_HOURS", Settings.redact_after_hours, minimum=0),
        "lifecycle_interval_ms": _int(env, "WAVECOM_LIFECYCLE_INTERVAL_MS", Settings.lifecycle_interval_ms,
                                      minimum=10),
    }


@dataclass(frozen=True)
class Settings:
    """Every setting the services read; defaults are the documented ones."""

    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_uri_set: bool = False
    mongodb_db: str = "wavecom"
    store_timeout_ms: int = 5000
    data_dir: Path = Path(".wavecom")
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    queue: str = "notification-jobs"
    host: str = "127.0.0.1"
    port: int = 4200
    metrics_port: int = 9464  # the worker's own /metrics; 0: none
    max_attempts: int = 3  # a channel's attempts unless WAVECOM_<CHANNEL>_MAX_ATTEMPTS says otherwise
    channel_max_attempts: dict[str, int] = field(default_factory=dict)
    retry_base_ms: int = 1000
    retry_backoff: Backoff = Backoff.LINEAR
    retry_max_ms: int = 300_000
    prefetch: int = 50  # the normal lane's; the others' in lane_prefetch
    lane_prefetch: dict[str, int] = field(default_factory=dict)
    lease_ms: int = 30000
    mock_latency_ms: int = 20
    mock_failure_rate: float = 0.1
    mock_seed: int | None = None
    mock2_latency_ms: int = 20
    mock2_failure_rate: float = 0.1
    mock_down_file: Path | None = None  # while it exists, `mock` fails every call transiently
    mock2_down_file: Path | None = None
    breaker_failures: int = 5  # transient failures in a row that open a provider
    breaker_cooldown_ms: int = 30_000  # how long an open provider is left out
    provider_rates: dict[str, int] = field(default_factory=dict)  # sends per second per worker; 0: no limit
    delivery_limit: int = 5
    rate_limit: float = 1000.0
    rate_burst: int = 2000
    bootstrap_key: str = ""
    cors_origins: tuple[str, ...] = ()
    sweep_interval_ms: int = 1000
    outbox_grace_ms: int = 5000
    requeue_after_ms: int = 300_000
    reconcile_interval_ms: int = 60_000  # counters recounted at most this often
    mock_ledger: Path | None = None
    # Providers per channel, in the order they are tried (shared.bootstrap.providers_for); AWS
    # credentials come from the environment or the AWS credential chain, never from here.
    providers: dict[str, tuple[str, ...]] = field(default_factory=lambda: {c: ("mock",) for c in CHANNELS})
    aws_region: str = ""
    ses_from: str = ""
    ses_configuration_set: str = ""
    email_subject: str = "Notification"
    sns_sms_type: str = "Transactional"
    sns_sender_id: str = ""
    sns_platform_application_arn: str = ""
    # HMAC-SHA256 key of recipients kept only as hashes (suppressions); see shared.hashing.
    hash_key: str = ""
    webhook_allow_private: bool = False  # loopback, private and link-local webhook targets allowed
    webhook_retry_delays_ms: tuple[int, ...] = WEBHOOK_RETRY_DELAYS_MS  # between the 8 tries of an event
    webhook_concurrency: int = 20  # webhook deliveries one `wavecom webhooks` makes at once
    sns_topic_arns: tuple[str, ...] = ()  # the topics whose receipts POST /api/receipts/sns accepts
    retention_days: int = 30  # terminal jobs last updated longer ago are deleted (a tenant may keep fewer)
    redact_after_hours: int = 24  # terminal jobs last updated longer ago lose their message and metadata
    lifecycle_interval_ms: int = 60_000  # how often the sweeper redacts, deletes and finishes erasures

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        uri = env.get("MONGODB_URI") or ""
        data_dir = Path(env.get("WAVECOM_DATA_DIR") or cls.data_dir)
        seed = env.get("WAVECOM_MOCK_SEED")
        return cls(
            mongodb_uri=uri or cls.mongodb_uri,
            mongodb_uri_set=bool(uri),
            mongodb_db=env.get("MONGODB_DB") or cls.mongodb_db,
            store_timeout_ms=_int(env, "WAVECOM_STORE_TIMEOUT_MS", cls.store_timeout_ms, minimum=100),
            data_dir=data_dir,
            rabbitmq_url=env.get("RABBITMQ_URL") or cls.rabbitmq_url,
            queue=env.get("WAVECOM_QUEUE") or cls.queue,
            host=env.get("WAVECOM_HOST") or cls.host,
            port=_int(env, "WAVECOM_PORT", cls.port, minimum=0),
            metrics_port=_int(env, "WAVECOM_METRICS_PORT", cls.metrics_port, minimum=0),
            max_attempts=_int(env, "WAVECOM_MAX_ATTEMPTS", cls.max_attempts, minimum=1),
            retry_base_ms=_int(env, "WAVECOM_RETRY_BASE_MS", cls.retry_base_ms, minimum=1),
            prefetch=_int(env, "WAVECOM_PREFETCH", cls.prefetch, minimum=1),
            lease_ms=_int(env, "WAVECOM_LEASE_MS", cls.lease_ms, minimum=1),
            mock_latency_ms=_int(env, "WAVECOM_MOCK_LATENCY_MS", cls.mock_latency_ms),
            mock_failure_rate=_float(env, "WAVECOM_MOCK_FAILURE_RATE", cls.mock_failure_rate, 0, 1),
            mock_seed=None if seed in (None, "") else _int(env, "WAVECOM_MOCK_SEED", 0),
            delivery_limit=_int(env, "WAVECOM_DELIVERY_LIMIT", cls.delivery_limit, minimum=1),
            rate_limit=_float(env, "WAVECOM_RATE_LIMIT", cls.rate_limit, 0, 1_000_000),
            rate_burst=_int(env, "WAVECOM_RATE_BURST", cls.rate_burst, minimum=1),
            bootstrap_key=env.get("WAVECOM_BOOTSTRAP_KEY") or "",
            cors_origins=tuple(o.strip() for o in (env.get("WAVECOM_CORS_ORIGINS") or "").split(",") if o.strip()),
            sweep_interval_ms=_int(env, "WAVECOM_SWEEP_INTERVAL_MS", cls.sweep_interval_ms, minimum=10),
            outbox_grace_ms=_int(env, "WAVECOM_OUTBOX_GRACE_MS", cls.outbox_grace_ms, minimum=0),
            requeue_after_ms=_int(env, "WAVECOM_REQUEUE_AFTER_MS", cls.requeue_after_ms, minimum=1000),
            reconcile_interval_ms=_int(env, "WAVECOM_RECONCILE_INTERVAL_MS", cls.reconcile_interval_ms,
                                       minimum=60_000),
            mock_ledger=Path(env["WAVECOM_MOCK_LEDGER"]) if env.get("WAVECOM_MOCK_LEDGER") else None,
            **_providers(env),
            **_delivery_policy(env),
            **_notifications_back(env, data_dir),
        )

    def max_attempts_of(self, channel: str) -> int:
        """The attempt budget of a new job of `channel`."""
        return self.channel_max_attempts.get(channel, self.max_attempts)

    def prefetch_of(self, lane: str) -> int:
        """How many messages of a lane a worker holds at once (the normal lane: WAVECOM_PREFETCH)."""
        return self.lane_prefetch.get(lane, self.prefetch) if lane != "normal" else self.prefetch

    @property
    def total_prefetch(self) -> int:
        """Messages a worker holds at once over every lane: the provider calls it may make at once."""
        return sum(self.prefetch_of(lane) for lane in ("high", "normal", "low"))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some settings replaced (tests, the orchestrator)."""
        return replace(self, **changes)
