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
    assert (settings.email_provider, settings.sms_provider, settings.push_provider) == ("mock", "mock", "mock")
    assert all(isinstance(p, MockProvider) for p in providers_for(settings).values())


def test_each_channel_gets_the_provider_its_setting_names():
    chosen = providers_for(Settings.from_env({**SES, "WAVECOM_SMS_PROVIDER": "SNS"}))
    assert isinstance(chosen["email"], SesEmailProvider) and isinstance(chosen["sms"], SnsSmsProvider)
    assert isinstance(chosen["push"], MockProvider)
    chosen = providers_for(Settings.from_env({"WAVECOM_PUSH_PROVIDER": "sns", "AWS_DEFAULT_REGION": "us-east-1",
                                              "WAVECOM_SNS_PLATFORM_APPLICATION_ARN": APP}))
    push = chosen["push"]
    assert isinstance(push, SnsPushProvider) and push.platform_application_arn == APP
    assert isinstance(chosen["email"], MockProvider) and isinstance(chosen["sms"], MockProvider)


def test_real_provider_settings_are_read_with_their_defaults():
    s = Settings.from_env({**SES, "WAVECOM_SMS_PROVIDER": "sns", "AWS_DEFAULT_REGION": "us-east-1"})
    assert s.aws_region == "eu-west-1"  # AWS_REGION wins: Lambda sets it, and most AWS SDKs read it first
    assert (s.ses_from, s.ses_configuration_set, s.email_subject) == ("no-reply@wavecom.example", "", "Notification")
    assert (s.sns_sms_type, s.sns_sender_id, s.sns_platform_application_arn) == ("Transactional", "", "")
    provider = providers_for(s)["email"]
    assert isinstance(provider, SesEmailProvider) and provider.sender == "no-reply@wavecom.example"


@pytest.mark.parametrize(("env", "named"), [
    ({"WAVECOM_EMAIL_PROVIDER": "sendgrid"}, "WAVECOM_EMAIL_PROVIDER"),
    ({"WAVECOM_SMS_PROVIDER": "ses"}, "WAVECOM_SMS_PROVIDER"),
    ({"WAVECOM_PUSH_PROVIDER": "fcm"}, "WAVECOM_PUSH_PROVIDER"),
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

