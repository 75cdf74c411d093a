"""SNS message checks and SES event shapes (as AWS documents them in "Amazon SNS notification
examples for Amazon SES" and for event publishing), as pure logic."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.snsreceipts import (
    CertificateCache,
    ReceiptRejected,
    parse_sns,
    ses_event,
    ses_notification,
    sns_url,
    verify,
)
from tests.snssign import TOPIC, make_signer, notification

BOUNCE = {  # AWS's "bounce notification with a DSN", its fields kept, headers left out
    "notificationType": "Bounce",
    "bounce": {"bounceType": "Permanent", "reportingMTA": "dns; email.example.com",
               "bouncedRecipients": [{"emailAddress": "jane@example.com", "status": "5.1.1", "action": "failed",
                                      "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User"}],
               "bounceSubType": "General", "timestamp": "2016-01-27T14:59:38.237Z",
               "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
               "remoteMtaIp": "127.0.2.0"},
    "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "source": "john@example.com",
             "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com", "sourceIp": "127.0.3.0",
             "sendingAccountId": "123456789012", "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
             "destination": ["jane@example.com", "mary@example.com", "richard@example.com"]},
}
COMPLAINT = {  # AWS's "complaint notification with a feedback report"
    "notificationType": "Complaint",
    "complaint": {"userAgent": "AnyCompany Feedback Loop (V0.01)",
                  "complainedRecipients": [{"emailAddress": "richard@example.com"}],
                  "complaintFeedbackType": "abuse", "arrivalDate": "2016-01-27T14:59:38.237Z",
                  "timestamp": "2016-01-27T14:59:38.237Z",
                  "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},
    "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
             "source": "john@example.com", "destination": ["jane@example.com", "richard@example.com"]},
}
DELIVERY = {  # AWS's "delivery notification example"
    "notificationType": "Delivery",
    "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
             "source": "john@example.com", "destination": ["jane@example.com"]},
    "delivery": {"timestamp": "2016-01-27T14:59:38.237Z", "recipients": ["jane@example.com"],
                 "processingTimeMillis": 546, "reportingMTA": "a8-70.smtp-out.amazonses.com",
                 "smtpResponse": "250 ok:  Message 64111812 accepted", "remoteMtaIp": "127.0.2.0"},
}


def test_documented_bounce_complaint_and_delivery_are_read():
    bounce, complaint, delivery = (ses_event(json.dumps(e)) for e in (BOUNCE, COMPLAINT, DELIVERY))
    assert (bounce.kind, bounce.permanent, bounce.detail, bounce.recipients) == (
        "bounced", True, "Permanent/General", ("jane@example.com",))
    assert bounce.message_id == BOUNCE["mail"]["messageId"]
    assert (complaint.kind, complaint.permanent, complaint.detail) == ("complained", True, "abuse")
    assert (delivery.kind, delivery.permanent, delivery.recipients) == ("delivered", False, ("jane@example.com",))


def test_a_transient_bounce_does_not_suppress():
    soft = {**BOUNCE, "bounce": {**BOUNCE["bounce"], "bounceType": "Transient", "bounceSubType": "MailboxFull"}}
    assert ses_event(json.dumps(soft)).permanent is False


def test_event_publishing_shapes_use_event_type():
    published = {**{k: v for k, v in BOUNCE.items() if k != "notificationType"}, "eventType": "Bounce"}
    assert ses_event(json.dumps(published)).kind == "bounced"


def test_what_is_not_an_ses_event_is_refused_naming_message():
    for text in ("not json", json.dumps({"notificationType": "Open", "mail": {"messageId": "x"}}), json.dumps([])):
        with pytest.raises(ReceiptRejected) as refused:
            ses_event(text)
        assert refused.value.field == "Message"


def test_the_mock_providers_notifications_read_back_as_what_they_say():
    for kind, permanent in (("bounced", True), ("complained", True), ("delivered", False)):
        event = ses_event(ses_notification(kind, "m-1", "x@bounce.example.com", "2026-12-02T10:00:00.000Z"))
        assert (event.kind, event.message_id, event.permanent) == (kind, "m-1", permanent)


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
    "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
    "https://user@sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    "https://sns.us-east-1.amazonaws.com/x.txt",
    "https://s3.us-east-1.amazonaws.com/x.pem",
])
def test_certificate_urls_off_sns_hosts_are_refused(url):
    with pytest.raises(ReceiptRejected) as refused:
        sns_url(url, "SigningCertURL", pem=True)
    assert refused.value.field == "SigningCertURL"


def test_sns_hosts_of_every_partition_are_accepted():
    for url in ("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
                "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
                "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem"):
        assert sns_url(url, "SigningCertURL", pem=True) == url


def test_a_message_missing_a_field_is_refused_naming_it():
    signed = make_signer().sign(notification("{}"))
    del signed["TopicArn"]
    with pytest.raises(ReceiptRejected) as refused:
        parse_sns(json.dumps(signed).encode())
    assert refused.value.field == "TopicArn"


def test_an_old_message_is_a_replay_and_refused():
    signer = make_signer()
    old = notification("{}")
    old["Timestamp"] = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="milliseconds")
    certificates = CertificateCache(fetch=lambda url: signer.pem)
    with pytest.raises(ReceiptRejected) as refused:
        verify(parse_sns(json.dumps(signer.sign(old)).encode()), topics=frozenset({TOPIC}), certificates=certificates)
    assert refused.value.field == "Timestamp"


def test_an_unknown_signature_version_and_an_empty_allow_list_are_refused():
    signer = make_signer()
    certificates = CertificateCache(fetch=lambda url: signer.pem)
    message = parse_sns(json.dumps({**signer.sign(notification("{}")), "SignatureVersion": "3"}).encode())
    with pytest.raises(ReceiptRejected) as refused:
        verify(message, topics=frozenset({TOPIC}), certificates=certificates)
    assert refused.value.field == "SignatureVersion"
    with pytest.raises(ReceiptRejected) as refused:
        verify(parse_sns(json.dumps(signer.sign(notification("{}"))).encode()), topics=frozenset(),
               certificates=certificates)
    assert refused.value.field == "TopicArn"


def test_a_certificate_from_another_key_does_not_verify():
    signer, other = make_signer(), make_signer()
    message = parse_sns(json.dumps(signer.sign(notification("{}"))).encode())
    with pytest.raises(ReceiptRejected) as refused:
        verify(message, topics=frozenset({TOPIC}), certificates=CertificateCache(fetch=lambda url: other.pem))
    assert refused.value.field == "Signature"
