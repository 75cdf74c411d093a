"""The SES and SNS providers against moto's in-process AWS, with injected service faults."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import botocore.endpoint
import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from shared.errors import PermanentProviderError, ProviderError, TransientProviderError
from shared.providers import Provider, SesEmailProvider, SnsPushProvider, SnsSmsProvider
from shared.providers.aws import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, SDK_ATTEMPTS
from shared.providers.ses import subject_of
from tests.integration.aws_faults import FAULT_ENDPOINT, answer_with, fail_network, record_params

if TYPE_CHECKING:
    from mypy_boto3_ses.client import SESClient

REGION = "eu-west-1"
SENDER = "no-reply@wavecom.example"
EMAIL, PHONE, TOKEN = "ada.obi@example.org", "+2348012345678", "fcm-token-5f2a9c"


def job_id() -> str:
    return uuid.uuid4().hex[:24]


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's AWS, in-process; fake credentials so nothing can reach a real account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL_SNS"):
        monkeypatch.delenv(name, raising=False)  # an endpoint set for a local emulator would bypass moto
    with mock_aws():
        yield


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> dict[str, Provider]:
    """A provider per channel whose AWS answers only with the faults a test injects."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", FAULT_ENDPOINT)
    return {
        "ses": SesEmailProvider(sender=SENDER, region=REGION),
        "sms": SnsSmsProvider(region=REGION),
        "push": SnsPushProvider(region=REGION, platform_application_arn=f"arn:aws:sns:{REGION}:123456789012:app/GCM/x"),
    }


@pytest.fixture
def sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's backoff delays between attempts, recorded instead of slept."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.fixture
def ses() -> SesEmailProvider:
    """The SES provider, its sender verified."""
    provider = SesEmailProvider(sender=f"WaveCom <{SENDER}>", region=REGION)
    provider.client.verify_email_identity(EmailAddress=SENDER)
    return provider


@pytest.fixture
def sms() -> SnsSmsProvider:
    """The SNS SMS provider with a sender id."""
    return SnsSmsProvider(region=REGION, sender_id="WaveCom")


@pytest.fixture
def push() -> SnsPushProvider:
    """The SNS push provider with a platform application to register device tokens in."""
    provider = SnsPushProvider(region=REGION)
    provider.platform_application_arn = provider.client.create_platform_application(
        Name="wavecom-test", Platform="GCM", Attributes={"PlatformCredential": "server-key"}
    )["PlatformApplicationArn"]
    return provider


def test_ses_sends_the_email_and_tags_it_with_the_job_id(ses: SesEmailProvider) -> None:
    calls, job = record_params(ses.client, "SendEmail"), job_id()
    receipt = ses.send(job_id=job, recipient=EMAIL, message="Your statement is ready.",
                       metadata={"subject": "Statement\r\nBcc: x@example.org"}, attempt=1)
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages[-1]
    assert (ses.name, receipt.message_id) == ("ses", sent.id)
    assert sent.destinations == {"ToAddresses": [EMAIL]} and sent.source == f"WaveCom <{SENDER}>"
    assert sent.body == "Your statement is ready." and sent.subject == "Statement Bcc: x@example.org"
    assert calls[0]["Tags"] == [{"Name": "wavecom-job-id", "Value": job}]


@pytest.mark.parametrize(("metadata", "subject"), [
    ({}, "Notification"), ({"subject": "  "}, "Notification"), ({"subject": 42}, "Notification"),
    ({"subject": "Line one\nline two"}, "Line one line two"), ({"subject": "x" * 500}, "x" * 200),
])
def test_the_subject_is_metadata_subject_on_one_line_else_the_default(metadata: dict[str, object], subject: str) -> None:
    assert subject_of(metadata, "Notification") == subject


def test_an_unverified_sender_fails_permanently() -> None:
    provider = SesEmailProvider(sender="someone@unverified.example", region=REGION)
    with pytest.raises(PermanentProviderError, match=r"^ses rejected the message \(MessageRejected\)$"):
        provider.send(job_id=job_id(), recipient=EMAIL, message="hi", metadata={}, attempt=1)


def test_an_invalid_email_address_fails_permanently(ses: SesEmailProvider) -> None:
    with pytest.raises(PermanentProviderError, match="InvalidParameterValue"):
        ses.send(job_id=job_id(), recipient="ada.obi", message="hi", metadata={}, attempt=1)


def test_sns_publishes_a_transactional_sms_carrying_the_job_id(sms: SnsSmsProvider) -> None:
    calls, job = record_params(sms.client, "Publish"), job_id()
    receipt = sms.send(job_id=job, recipient=PHONE, message="Your code is 123456", metadata={}, attempt=1)
    assert sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages[receipt.message_id] == (PHONE, "Your code is 123456")
    attributes = calls[0]["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"
    assert attributes["AWS.SNS.SMS.SenderID"]["StringValue"] == "WaveCom"
    assert attributes["wavecom.jobId"] == {"DataType": "String", "StringValue": job}


def test_an_invalid_phone_number_fails_permanently(sms: SnsSmsProvider) -> None:
    with pytest.raises(PermanentProviderError, match="InvalidParameter"):
        sms.send(job_id=job_id(), recipient="0801-CALL-ME", message="hi", metadata={}, attempt=1)


def test_a_device_token_is_registered_once_and_its_endpoint_gets_the_push(push: SnsPushProvider) -> None:
    registrations = record_params(push.client, "CreatePlatformEndpoint")
    first = push.send(job_id=job_id(), recipient=TOKEN, message="Parcel out for delivery", metadata={}, attempt=1)
    second = push.send(job_id=job_id(), recipient=TOKEN, message="Parcel delivered", metadata={}, attempt=1)
    endpoints = sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints
    assert [e.token for e in endpoints.values()] == [TOKEN] and len(registrations) == 1
    endpoint = next(iter(endpoints.values()))
    assert endpoint.messages == {first.message_id: "Parcel out for delivery", second.message_id: "Parcel delivered"}


def test_an_endpoint_arn_recipient_is_published_to_directly(push: SnsPushProvider) -> None:
    arn = push.client.create_platform_endpoint(PlatformApplicationArn=push.platform_application_arn, Token=TOKEN)["EndpointArn"]
    registrations = record_params(push.client, "CreatePlatformEndpoint")
    receipt = push.send(job_id=job_id(), recipient=arn, message="hello", metadata={}, attempt=1)
    assert sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints[arn].messages == {receipt.message_id: "hello"}
    assert registrations == []


def test_a_disabled_endpoint_fails_permanently(push: SnsPushProvider) -> None:
    push.send(job_id=job_id(), recipient=TOKEN, message="hello", metadata={}, attempt=1)
    arn = next(iter(sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints))
    # What SNS does when the push service reports the token dead.
    push.client.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    for recipient in (TOKEN, arn):
        with pytest.raises(PermanentProviderError, match=r"\(EndpointDisabled\)$"):
            push.send(job_id=job_id(), recipient=recipient, message="hello", metadata={}, attempt=1)


@pytest.mark.parametrize("recipient", [TOKEN, "arn:aws:sns:eu-west-1:123456789012:some-topic"])
def test_a_token_without_a_platform_application_or_a_non_endpoint_arn_fails_permanently(recipient: str) -> None:
    with pytest.raises(PermanentProviderError):
        SnsPushProvider(region=REGION).send(job_id=job_id(), recipient=recipient, message="hi", metadata={}, attempt=1)


def test_ses_throttling_is_transient_after_one_short_sdk_retry(faulty: dict[str, Provider], sdk_sleeps: list[float]) -> None:
    ses = faulty["ses"]
    assert isinstance(ses, SesEmailProvider)
    attempts = answer_with(ses.client, "SendEmail", 400, "Throttling", "Maximum sending rate exceeded.")
    with pytest.raises(TransientProviderError, match=r"^ses is unavailable \(Throttling\)$"):
        ses.send(job_id=job_id(), recipient=EMAIL, message="hi", metadata={}, attempt=1)
    assert len(attempts) == SDK_ATTEMPTS == 2 and len(sdk_sleeps) == 1 and sdk_sleeps[0] <= 1


ENDPOINT_ARN = f"arn:aws:sns:{REGION}:123456789012:endpoint/GCM/x/2b1c"


@pytest.mark.parametrize(("which", "recipient", "operation", "status", "code", "expected"), [
    ("ses", EMAIL, "SendEmail", 503, "ServiceUnavailable", TransientProviderError),
    ("ses", EMAIL, "SendEmail", 500, "InternalFailure", TransientProviderError),
    ("ses", EMAIL, "SendEmail", 400, "AccountSendingPausedException", TransientProviderError),
    ("ses", EMAIL, "SendEmail", 400, "MessageRejected", PermanentProviderError),
    ("ses", EMAIL, "SendEmail", 400, "MailFromDomainNotVerifiedException", PermanentProviderError),
    ("ses", EMAIL, "SendEmail", 400, "ConfigurationSetDoesNotExist", PermanentProviderError),
    ("sms", PHONE, "Publish", 429, "Throttled", TransientProviderError),
    ("sms", PHONE, "Publish", 400, "Throttling", TransientProviderError),
    ("sms", PHONE, "Publish", 500, "InternalError", TransientProviderError),
    ("sms", PHONE, "Publish", 400, "ParameterValueInvalid", PermanentProviderError),
    ("sms", PHONE, "Publish", 403, "AuthorizationError", PermanentProviderError),
    ("sms", PHONE, "Publish", 400, "SomeNewRejection", PermanentProviderError),
    ("sms", PHONE, "Publish", 502, "SomeNewOutage", TransientProviderError),
    ("push", ENDPOINT_ARN, "Publish", 400, "EndpointDisabled", PermanentProviderError),
    ("push", ENDPOINT_ARN, "Publish", 400, "PlatformApplicationDisabled", PermanentProviderError),
    ("push", TOKEN, "CreatePlatformEndpoint", 500, "InternalError", TransientProviderError),
    ("push", TOKEN, "CreatePlatformEndpoint", 400, "InvalidParameter", PermanentProviderError),
])
def test_each_service_error_maps_to_transient_or_permanent(
    faulty: dict[str, Provider], sdk_sleeps: list[float],
    which: str, recipient: str, operation: str, status: int, code: str, expected: type[ProviderError],
) -> None:
    provider = faulty[which]
    assert isinstance(provider, (SesEmailProvider, SnsSmsProvider, SnsPushProvider))
    answer_with(provider.client, operation, status, code, f"Refused: {recipient}")
    with pytest.raises(ProviderError) as info:
        provider.send(job_id=job_id(), recipient=recipient, message="hi", metadata={}, attempt=1)
    assert type(info.value) is expected and str(info.value).endswith(f"({code})")


@pytest.mark.parametrize("error", [ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError])
def test_timeouts_and_unreachable_endpoints_are_transient(
    faulty: dict[str, Provider], sdk_sleeps: list[float], error: type[Exception]
) -> None:
    sms = faulty["sms"]
    assert isinstance(sms, SnsSmsProvider)
    attempts = fail_network(sms.client, "Publish", error)
    with pytest.raises(TransientProviderError, match=rf"^sns could not be reached \({error.__name__}\)$"):
        sms.send(job_id=job_id(), recipient=PHONE, message="hi", metadata={}, attempt=1)
    assert len(attempts) == SDK_ATTEMPTS


BODY = "Your one-time code is 918273"


def assert_nothing_personal(error: ProviderError, recipient: str) -> None:
    text = str(error)
    assert recipient not in text and BODY not in text and "918273" not in text
    assert error.__cause__ is None and error.__suppress_context__  # no botocore text in traces either


def test_errors_from_the_services_never_hold_the_recipient_or_the_message(ses: SesEmailProvider, sms: SnsSmsProvider) -> None:
    unverified = SesEmailProvider(sender="other@unverified.example", region=REGION)
    failures: list[tuple[Provider, str]] = [(unverified, EMAIL), (ses, "ada.obi"), (sms, "0801-CALL-ME")]
    for provider, recipient in failures:
        with pytest.raises(PermanentProviderError) as info:
            provider.send(job_id=job_id(), recipient=recipient, message=BODY, metadata={}, attempt=1)
        assert_nothing_personal(info.value, recipient)


@pytest.mark.parametrize(("which", "recipient", "operation"), [
    ("ses", EMAIL, "SendEmail"), ("sms", PHONE, "Publish"), ("push", TOKEN, "CreatePlatformEndpoint"),
])
def test_aws_messages_that_echo_the_recipient_are_not_repeated(
    faulty: dict[str, Provider], which: str, recipient: str, operation: str
) -> None:
    provider = faulty[which]
    assert isinstance(provider, (SesEmailProvider, SnsSmsProvider, SnsPushProvider))
    # As AWS answers, e.g. SES: "Email address is not verified. The following identities failed
    # the check in region EU-WEST-1: <address>".
    answer_with(provider.client, operation, 400, "InvalidParameter", f"Invalid parameter: {recipient}: {BODY}")
    with pytest.raises(PermanentProviderError) as info:
        provider.send(job_id=job_id(), recipient=recipient, message=BODY, metadata={}, attempt=1)
    assert_nothing_personal(info.value, recipient)


def test_clients_are_made_on_first_use_with_short_timeouts_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.providers.ses as ses_module

    made: list[str] = []
    real = ses_module._new_client

    def counted(region: str, pool: int) -> SESClient:
        made.append(region)
        return real(region, pool)

    monkeypatch.setattr(ses_module, "_new_client", counted)
    provider = SesEmailProvider(sender=SENDER, region=REGION, pool=50)
    assert made == []
    assert provider.client is provider.client and made == [REGION]
    config = provider.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    assert config.retries == {"mode": "standard", "total_max_attempts": SDK_ATTEMPTS}
    assert config.max_pool_connections == 50 and provider.client.meta.region_name == REGION
