"""The delivery path with SES as the email provider: real store and broker, moto's SES."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from shared.bootstrap import Deps
from shared.delivery import Outcome, deliver
from shared.intake import create_job
from shared.model import NewJob
from shared.providers import SesEmailProvider

REGION = "eu-west-1"
SENDER = "no-reply@wavecom.example"
RECIPIENT = "ada.obi@example.org"


@pytest.fixture
def ses_deps(make_deps: Callable[..., Deps], monkeypatch: pytest.MonkeyPatch) -> Iterator[Deps]:
    """A stack whose email channel is SES (as the settings choose it), inside moto's AWS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL_SNS"):
        monkeypatch.delenv(name, raising=False)  # an endpoint set for a local emulator would bypass moto
    with mock_aws():
        deps = make_deps(providers={"email": ("ses",), "sms": ("mock",), "push": ("mock",)}, ses_from=SENDER,
                         aws_region=REGION)
        assert isinstance(deps.providers["email"][0], SesEmailProvider)
        yield deps


def email(**overrides: object) -> NewJob:
    fields: dict[str, object] = {"type": "email", "recipient": RECIPIENT, "message": "Your statement is ready.",
                                 "metadata": {"subject": "March statement"}}
    fields.update(overrides)
    return NewJob(**fields)  # type: ignore[arg-type]


def test_a_job_sent_through_ses_is_marked_sent_with_the_ses_message_id(ses_deps: Deps) -> None:
    provider = ses_deps.providers["email"][0]
    assert isinstance(provider, SesEmailProvider)
    provider.client.verify_email_identity(EmailAddress=SENDER)
    job = create_job(ses_deps, email())
    assert deliver(ses_deps, [job.id]) == {job.id: Outcome.SENT}
    stored = ses_deps.jobs.get(job.id)
    assert stored.status.value == "sent" and stored.attempts == 1 and stored.last_error is None
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages[-1]
    assert sent.destinations == {"ToAddresses": [RECIPIENT]} and sent.subject == "March statement"
    details = ses_deps.jobs.timeline(job.id)[-1].details
    assert details["provider"] == "ses" and details["providerMessageId"] == sent.id


def test_an_unverified_sender_fails_the_job_at_once_without_the_recipient_in_its_error(ses_deps: Deps) -> None:
    job = create_job(ses_deps, email())
    assert deliver(ses_deps, [job.id]) == {job.id: Outcome.FAILED}  # permanent: no retry is scheduled
    stored = ses_deps.jobs.get(job.id)
    assert stored.status.value == "failed" and stored.attempts == 1
    assert stored.last_error == "ses rejected the message (MessageRejected)"
    timeline = ses_deps.jobs.timeline(job.id)
    assert [e.event.value for e in timeline][-1] == "failed" and timeline[-1].details["permanent"] is True
    assert all(RECIPIENT not in str(e.details) for e in timeline)
