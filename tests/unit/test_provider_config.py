"""Choosing a provider per channel from the environment, and refusing what cannot work."""

import pytest

from shared.bootstrap import providers_for
from shared.config import Settings
from shared.errors import ConfigError
from shared.providers import MockProvider, SesEmailProvider, SnsPushProvider, SnsSmsProvider

APP = "arn:aws:sns:eu-west-1:123456789012:app/GCM/wavecom"
SES = {"WAVECOM_EMAIL_PROVIDER": "ses", "WAVECOM_SES_FROM": "no-reply@wavecom.example", "AWS_REGION": "eu-west-1"}


def test_every_channel_uses_the_mock_provider_by_default():
    settings = Settings.from_env({})
    assert settings.providers == {"email": ("mock",), "sms": ("mock",), "push": ("mock",)}
    chains = providers_for(settings)
    assert all(len(chain) == 1 and isinstance(chain[0], MockProvider) and chain[0].name == "mock"
               for chain in chains.values())


def test_each_channel_gets_the_provider_its_single_setting_names():
    chosen = providers_for(Settings.from_env({**SES, "WAVECOM_SMS_PROVIDER": "SNS"}))
    assert isinstance(chosen["email"][0], SesEmailProvider) and isinstance(chosen["sms"][0], SnsSmsProvider)
    assert isinstance(chosen["push"][0], MockProvider)
    chosen = providers_for(Settings.from_env({"WAVECOM_PUSH_PROVIDER": "sns", "AWS_DEFAULT_REGION": "us-east-1",
                                              "WAVECOM_SNS_PLATFORM_APPLICATION_ARN": APP}))
    push = chosen["push"][0]
    assert isinstance(push, SnsPushProvider) and push.platform_application_arn == APP and push.name == "sns"
    assert isinstance(chosen["email"][0], MockProvider) and isinstance(chosen["sms"][0], MockProvider)


def test_a_channel_takes_an_ordered_list_of_providers_over_its_single_setting():
    settings = Settings.from_env({"WAVECOM_SMS_PROVIDERS": "sns, MOCK2", "WAVECOM_SMS_PROVIDER": "mock",
                                  "AWS_REGION": "eu-west-1", "WAVECOM_MOCK2_LATENCY_MS": "7",
                                  "WAVECOM_MOCK2_FAILURE_RATE": "0.5", "WAVECOM_MOCK_DOWN_FILE": "/tmp/mock-down"})
    assert settings.providers["sms"] == ("sns", "mock2")
    sms = providers_for(settings)["sms"]
    assert [p.name for p in sms] == ["sns", "mock2"]
    backup = sms[1]
    assert isinstance(backup, MockProvider) and (backup.latency_ms, backup.failure_rate) == (7, 0.5)
    assert backup.down_file is None  # the down file is mock's
    assert str(providers_for(settings)["email"][0].down_file) == "/tmp/mock-down"  # type: ignore[attr-defined]


def test_breakers_rates_attempts_and_prefetch_per_lane_are_read_with_their_defaults():
    s = Settings.from_env({})
    assert (s.breaker_failures, s.breaker_cooldown_ms) == (5, 30_000)
    assert s.provider_rates == {"mock": 0, "mock2": 0, "ses": 0, "sns": 0}
    assert [s.max_attempts_of(c) for c in ("email", "sms", "push")] == [3, 3, 3]
    assert [s.prefetch_of(lane) for lane in ("high", "normal", "low")] == [50, 50, 50]
    s = Settings.from_env({"WAVECOM_MAX_ATTEMPTS": "4", "WAVECOM_SMS_MAX_ATTEMPTS": "12", "WAVECOM_PREFETCH": "20",
                           "WAVECOM_PREFETCH_HIGH": "5", "WAVECOM_SES_RATE_PER_WORKER": "14",
                           "WAVECOM_RETRY_POLICY": "Exponential", "WAVECOM_RETRY_MAX_MS": "600000"})
    assert [s.max_attempts_of(c) for c in ("email", "sms", "push")] == [4, 12, 4]
    assert [s.prefetch_of(lane) for lane in ("high", "normal", "low")] == [5, 20, 20] and s.total_prefetch == 45
    assert s.provider_rates["ses"] == 14 and s.retry_backoff == "exponential" and s.retry_max_ms == 600_000


def test_real_provider_settings_are_read_with_their_defaults():
    s = Settings.from_env({**SES, "WAVECOM_SMS_PROVIDER": "sns", "AWS_DEFAULT_REGION": "us-east-1"})
    assert s.aws_region == "eu-west-1"  # AWS_REGION wins: Lambda sets it, and most AWS SDKs read it first
    assert (s.ses_from, s.ses_configuration_set, s.email_subject) == ("no-reply@wavecom.example", "", "Notification")
    assert (s.sns_sms_type, s.sns_sender_id, s.sns_platform_application_arn) == ("Transactional", "", "")
    provider = providers_for(s)["email"][0]
    assert isinstance(provider, SesEmailProvider) and provider.sender == "no-reply@wavecom.example"


@pytest.mark.parametrize(("env", "named"), [
    ({"WAVECOM_EMAIL_PROVIDER": "sendgrid"}, "WAVECOM_EMAIL_PROVIDER"),
    ({"WAVECOM_SMS_PROVIDER": "ses"}, "WAVECOM_SMS_PROVIDER"),
    ({"WAVECOM_PUSH_PROVIDER": "fcm"}, "WAVECOM_PUSH_PROVIDER"),
    ({"WAVECOM_SMS_PROVIDERS": "mock,twilio"}, "WAVECOM_SMS_PROVIDERS"),
    ({"WAVECOM_SMS_PROVIDERS": "mock,mock"}, "WAVECOM_SMS_PROVIDERS"),
    ({"WAVECOM_SMS_PROVIDERS": "mock2,sns"}, "AWS_REGION"),
    ({"WAVECOM_RETRY_POLICY": "fibonacci"}, "WAVECOM_RETRY_POLICY"),
    ({"WAVECOM_SMS_MAX_ATTEMPTS": "0"}, "WAVECOM_SMS_MAX_ATTEMPTS"),
    ({"WAVECOM_BREAKER_FAILURES": "0"}, "WAVECOM_BREAKER_FAILURES"),
    ({"WAVECOM_SES_RATE_PER_WORKER": "fast"}, "WAVECOM_SES_RATE_PER_WORKER"),
    ({"WAVECOM_EMAIL_PROVIDER": "ses", "WAVECOM_SES_FROM": "a@b.example"}, "AWS_REGION"),
    ({"WAVECOM_EMAIL_PROVIDER": "ses", "AWS_REGION": "eu-west-1"}, "WAVECOM_SES_FROM"),
    ({**SES, "WAVECOM_SNS_SMS_TYPE": "urgent"}, "WAVECOM_SNS_SMS_TYPE"),
    ({**SES, "WAVECOM_SNS_SENDER_ID": "Wave Com Bank"}, "WAVECOM_SNS_SENDER_ID"),
    ({**SES, "WAVECOM_SNS_PLATFORM_APPLICATION_ARN": "my-app"}, "WAVECOM_SNS_PLATFORM_APPLICATION_ARN"),
])
def test_unknown_providers_and_missing_requirements_are_refused_by_name(env, named):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert named in str(info.value)

