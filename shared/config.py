"""Configuration read from the environment, in one place."""

from __future__ import annotations

import os
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
    mock_ledger: Path | None = None

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
            mock_ledger=Path(env["WAVECOM_MOCK_LEDGER"]) if env.get("WAVECOM_MOCK_LEDGER") else None,
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some settings replaced (tests, the orchestrator)."""
        return replace(self, **changes)
