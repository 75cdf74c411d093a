"""Email through Amazon SES (the v1 SendEmail API): a plain-text message from one verified sender.

The subject is `metadata.subject` when it is non-empty text (whitespace, line breaks included,
collapsed to single spaces; at most 200 characters), else WAVECOM_EMAIL_SUBJECT. The job id
travels as the SES message tag `wavecom-job-id`, so event publishing through a configuration
set can tie bounces and deliveries back to the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

from shared.providers.aws import ErrorMap, LazyClient, client_config
from shared.providers.base import Provider, Receipt

if TYPE_CHECKING:
    from mypy_boto3_ses.client import SESClient
    from mypy_boto3_ses.type_defs import SendEmailRequestTypeDef

MAX_SUBJECT = 200
JOB_TAG = "wavecom-job-id"

ERRORS = ErrorMap(
    "ses",
    # A paused account or configuration set is a state the operator can lift, not a bad message.
    transient=frozenset({"AccountSendingPausedException", "ConfigurationSetSendingPausedException"}),
    permanent=frozenset({
        "MessageRejected",  # unverified sender (sandbox: unverified recipient too), content refused
        "MailFromDomainNotVerifiedException", "ConfigurationSetDoesNotExist",
        "InvalidParameterValue", "ValidationError", "AccessDenied", "AccessDeniedException",
    }),
)


def _new_client(region: str, pool: int) -> SESClient:
    # A session of its own: boto3's shared default session is not safe to build from threads.
    return boto3.session.Session().client("ses", region_name=region, config=client_config(pool))


def subject_of(metadata: Mapping[str, Any], default: str) -> str:
    """The subject of a job's email: `metadata.subject` on one line, else `default`."""
    value = metadata.get("subject")
    text = " ".join(value.split()) if isinstance(value, str) else ""
    return (text or default)[:MAX_SUBJECT]


class SesEmailProvider(Provider):
    """Sends email with SES from `sender`, optionally through a configuration set."""

    name = "ses"
    channel = "email"

    def __init__(
        self,
        *,
        sender: str,
        region: str,
        configuration_set: str = "",
        default_subject: str = "Notification",
        pool: int = 10,
        client: SESClient | None = None,
    ) -> None:
        self.sender = sender
        self.configuration_set = configuration_set
        self.default_subject = default_subject
        self._client = LazyClient(lambda: client or _new_client(region, pool))

    @property
    def client(self) -> SESClient:
        """The SES client, made on first use."""
        return self._client.get()

    def send(
        self,
        *,
        job_id: str,
        recipient: str,
        message: str,
        metadata: Mapping[str, Any],
        attempt: int,
    ) -> Receipt:
        """Send one email; SES's message id is the receipt."""
        request: SendEmailRequestTypeDef = {
            "Source": self.sender,
            "Destination": {"ToAddresses": [recipient]},
            "Message": {
                "Subject": {"Data": subject_of(metadata, self.default_subject), "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message, "Charset": "UTF-8"}},
            },
            "Tags": [{"Name": JOB_TAG, "Value": job_id}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        with ERRORS.translated():
            response = self.client.send_email(**request)
        return Receipt(message_id=response["MessageId"])
