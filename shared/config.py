"""Configuration read from the environment, in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shared.errors import ConfigError


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


# Which provider may serve each channel; `mock` everywhere unless configured otherwise.
PROVIDER_CHOICES = {"email": ("mock", "ses"), "sms": ("mock", "sns"), "push": ("mock", "sns")}
SMS_TYPES = ("Transactional", "Promotional")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")  # SNS: 1-11 alphanumerics, a letter


def _providers(env: Mapping[str, str]) -> dict[str, Any]:
    """The provider settings, checked together: a real provider needs what it names."""
    chosen: dict[str, str] = {}
    for channel, choices in PROVIDER_CHOICES.items():
        name = f"WAVECOM_{channel.upper()}_PROVIDER"
        value = (env.get(name) or "mock").strip().lower()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        chosen[channel] = value
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    real = [f"WAVECOM_{c.upper()}_PROVIDER={v}" for c, v in chosen.items() if v != "mock"]
    if real and not region:
        raise ConfigError(f"{real[0]} needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)")
    sender = (env.get("WAVECOM_SES_FROM") or "").strip()
    if chosen["email"] == "ses" and "@" not in sender:
        raise ConfigError("WAVECOM_EMAIL_PROVIDER=ses needs WAVECOM_SES_FROM, a sender address SES has verified")
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
        "email_provider": chosen["email"],
        "sms_provider": chosen["sms"],
        "push_provider": chosen["push"],
        "aws_region": region,
        "ses_from": sender,
        "ses_configuration_set": (env.get("WAVECOM_SES_CONFIGURATION_SET") or "").strip(),
        "email_subject": (env.get("WAVECOM_EMAIL_SUBJECT") or "").strip() or Settings.email_subject,
        "sns_sms_type": sms_type,
        "sns_sender_id": sender_id,
        "sns_platform_application_arn": application,
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
    max_attempts: int = 3
    retry_base_ms: int = 1000
    prefetch: int = 50
    lease_ms: int = 30000
    mock_latency_ms: int = 20
    mock_failure_rate: float = 0.1
    mock_seed: int | None = None
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
    # Providers per channel (shared.bootstrap.providers_for); AWS credentials come from the
    # environment or the AWS credential chain, never from here.
    email_provider: str = "mock"
    sms_provider: str = "mock"
    push_provider: str = "mock"
    aws_region: str = ""
    ses_from: str = ""
    ses_configuration_set: str = ""
    email_subject: str = "Notification"
    sns_sms_type: str = "Transactional"
    sns_sender_id: str = ""
    sns_platform_application_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        uri = env.get("MONGODB_URI") or ""
        seed = env.get("WAVECOM_MOCK_SEED")
        return cls(
            mongodb_uri=uri or cls.mongodb_uri,
            mongodb_uri_set=bool(uri),
            mongodb_db=env.get("MONGODB_DB") or cls.mongodb_db,
            store_timeout_ms=_int(env, "WAVECOM_STORE_TIMEOUT_MS", cls.store_timeout_ms, minimum=100),
            data_dir=Path(env.get("WAVECOM_DATA_DIR") or cls.data_dir),
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
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some settings replaced (tests, the orchestrator)."""
        return replace(self, **changes)
