"""SMS and push through Amazon SNS.

SMS: `Publish(PhoneNumber=...)` with the SMS type (Transactional by default, the type for OTPs
and alerts) and, where the country allows one, a sender id.
Push: a recipient that is a platform endpoint ARN (`arn:aws:sns:...:endpoint/...`) is published
to directly. Any other recipient is a device token: with WAVECOM_SNS_PLATFORM_APPLICATION_ARN
set, its endpoint is created (CreatePlatformEndpoint is idempotent for the same token, so this
also finds an existing one), remembered for the process's life, and published to; without it
the job fails permanently. A disabled endpoint (the push service reported the token dead) fails
permanently and is not re-enabled. The message goes out as SNS's default text.
The job id travels as the message attribute `wavecom.jobId` (SNS keeps it with the publish;
phones and push services do not receive it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from shared.errors import PermanentProviderError
from shared.providers.aws import ErrorMap, LazyClient, client_config
from shared.providers.base import Provider, Receipt

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

JOB_ATTRIBUTE = "wavecom.jobId"
REMEMBERED_ENDPOINTS = 10_000

ERRORS = ErrorMap(
    "sns",
    transient=frozenset({"KMSThrottling"}),
    permanent=frozenset({
        "InvalidParameter", "ParameterValueInvalid", "ValidationException",  # bad number, token, text
        "EndpointDisabled", "PlatformApplicationDisabled", "NotFound",
        "AuthorizationError", "InvalidSecurity", "OptedOut",
        "KMSDisabled", "KMSInvalidState", "KMSNotFound", "KMSOptInRequired", "KMSAccessDenied",
    }),
)


def _new_client(region: str, pool: int) -> SNSClient:
    # A session of its own: boto3's shared default session is not safe to build from threads.
    return boto3.session.Session().client("sns", region_name=region, config=client_config(pool))


def _string(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value}


class _SnsProvider(Provider):
    """The SNS client both channels use, made on first use."""

    name = "sns"

    def __init__(self, region: str, pool: int, client: SNSClient | None) -> None:
        self._client = LazyClient(lambda: client or _new_client(region, pool))

    @property
    def client(self) -> SNSClient:
        """The SNS client, made on first use."""
        return self._client.get()


class SnsSmsProvider(_SnsProvider):
    """Sends SMS to E.164 numbers with SNS."""

    channel = "sms"

    def __init__(
        self, *, region: str, sms_type: str = "Transactional", sender_id: str = "", pool: int = 10,
        client: SNSClient | None = None,
    ) -> None:
        super().__init__(region, pool, client)
        self.attributes = {"AWS.SNS.SMS.SMSType": _string(sms_type)}
        if sender_id:
            self.attributes["AWS.SNS.SMS.SenderID"] = _string(sender_id)

    def send(
        self, *, job_id: str, recipient: str, message: str, metadata: Mapping[str, Any], attempt: int
    ) -> Receipt:
        """Publish one SMS; SNS's message id is the receipt."""
        attributes = {**self.attributes, JOB_ATTRIBUTE: _string(job_id)}
        with ERRORS.translated():
            response = self.client.publish(PhoneNumber=recipient, Message=message, MessageAttributes=attributes)
        return Receipt(message_id=response["MessageId"])


class SnsPushProvider(_SnsProvider):
    """Sends push notifications to SNS platform endpoints, registering device tokens on demand."""

    channel = "push"

    def __init__(
        self, *, region: str, platform_application_arn: str = "", pool: int = 10,
        client: SNSClient | None = None,
    ) -> None:
        super().__init__(region, pool, client)
        self.platform_application_arn = platform_application_arn
        self._endpoints: OrderedDict[str, str] = OrderedDict()  # device token -> endpoint ARN
        self._lock = threading.Lock()

    def send(
        self, *, job_id: str, recipient: str, message: str, metadata: Mapping[str, Any], attempt: int
    ) -> Receipt:
        """Publish one push notification to the recipient's endpoint."""
        with ERRORS.translated():
            target = self._endpoint(recipient)
            try:
                response = self.client.publish(
                    TargetArn=target, Message=message, MessageAttributes={JOB_ATTRIBUTE: _string(job_id)}
                )
            except ClientError:
                self._forget(recipient)  # a deleted or disabled endpoint is looked up afresh next time
                raise
        return Receipt(message_id=response["MessageId"])

    def _endpoint(self, recipient: str) -> str:
        if recipient.startswith("arn:"):
            if ":endpoint/" in recipient:
                return recipient
            raise PermanentProviderError("sns push recipient is an ARN but not a platform endpoint")
        if not self.platform_application_arn:
            raise PermanentProviderError(
                "sns push needs an endpoint ARN as recipient, or WAVECOM_SNS_PLATFORM_APPLICATION_ARN "
                "set to register device tokens"
            )
        with self._lock:
            known = self._endpoints.get(recipient)
            if known is not None:
                self._endpoints.move_to_end(recipient)
                return known
        arn = self.client.create_platform_endpoint(
            PlatformApplicationArn=self.platform_application_arn, Token=recipient
        )["EndpointArn"]
        with self._lock:
            self._endpoints[recipient] = arn
            while len(self._endpoints) > REMEMBERED_ENDPOINTS:
                self._endpoints.popitem(last=False)
        return arn

    def _forget(self, recipient: str) -> None:
        with self._lock:
            self._endpoints.pop(recipient, None)
