"""Configuration from the environment."""

import pytest

from shared.config import Settings
from shared.errors import ConfigError


def test_defaults_are_the_documented_ones():
    s = Settings.from_env({})
    assert s.mongodb_uri == "mongodb://127.0.0.1:27017/" and not s.mongodb_uri_set
    assert (s.mongodb_db, s.queue, s.host, s.port) == ("wavecom", "notification-jobs", "127.0.0.1", 4200)
    assert (s.max_attempts, s.retry_base_ms, s.prefetch, s.lease_ms) == (3, 1000, 50, 30000)
    assert (s.mock_latency_ms, s.mock_failure_rate) == (20, 0.1)
    assert s.rabbitmq_url == "amqp://guest:guest@127.0.0.1:5672/%2F"


def test_values_come_from_the_environment():
    s = Settings.from_env({"MONGODB_URI": "mongodb://db:27017/", "WAVECOM_QUEUE": "q2", "WAVECOM_MAX_ATTEMPTS": "5"})
    assert s.mongodb_uri_set and s.queue == "q2" and s.max_attempts == 5


@pytest.mark.parametrize(
    "env", [{"WAVECOM_PORT": "http"}, {"WAVECOM_MAX_ATTEMPTS": "0"}, {"WAVECOM_MOCK_FAILURE_RATE": "1.5"}]
)
def test_malformed_values_are_refused_by_name(env):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert next(iter(env)) in str(info.value)
