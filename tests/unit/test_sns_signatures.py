"""SNS signature checks end to end in pure logic: messages signed as SNS signs them (versions 1
and 2) with a key made here, verified, tampered with, replayed; the certificate cache; the
subscription confirmation; SES event-publishing records as AWS documents them. Refusals name
the field at fault and never carry the message or an address."""

import base64
import json
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from shared.snsreceipts import (
    CertificateCache,
    ReceiptRejected,
    confirm,
    parse_sns,
    ses_event,
    ses_notification,
    sns_url,
    verify,
)
from tests.snssign import CERT_URL, TOPIC, Signer, make_signer, notification

OTHER_TOPIC = "arn:aws:sns:eu-west-1:123456789012:other-receipts"
SECRET = "otp 314159 for someone@bounce.example.com"  # must never reach an error message


@pytest.fixture(scope="module")
def signer() -> Signer:
    """A local RSA key and self-signed certificate standing in for SNS's."""
    return make_signer()


@pytest.fixture
def fetched(signer: Signer) -> list[str]:
    """The certificate URLs fetched through `certificates`, in order."""
    return []


@pytest.fixture
def certificates(signer: Signer, fetched: list[str]) -> CertificateCache:
    """A certificate cache whose fetcher serves the signer's certificate and records each URL."""
    def fetch(url: str) -> bytes:
        fetched.append(url)
        return signer.pem
    return CertificateCache(fetch=fetch)


# The keys SNS signs, in order, per "Verifying the signatures of Amazon SNS messages" (written
# out here again rather than shared, so a slip in one copy shows as a failure).
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def sign(signer: Signer, message: dict[str, str], version: str = "1") -> dict[str, str]:
    """`message` signed as SNS signs it: "Key\\nvalue\\n" for each key present, RSA PKCS#1 v1.5
    over SHA1 (version 1) or SHA256 (version 2), base64."""
    signed = {"SigningCertURL": CERT_URL, **message, "SignatureVersion": version}
    text = "".join(f"{k}\n{signed[k]}\n" for k in SIGNED_KEYS[signed["Type"]] if k in signed)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = signer.key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {**signed, "Signature": base64.b64encode(signature).decode()}


def checked(signed: dict[str, str]) -> dict[str, str]:
    """A signed message as the route reads it from the request body."""
    return parse_sns(json.dumps(signed).encode())


def confirmation(kind: str = "SubscriptionConfirmation") -> dict[str, str]:
    """An unsigned (Un)SubscriptionConfirmation for TOPIC, with random ids."""
    token = uuid.uuid4().hex
    return {"Type": kind, "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC, "Token": token,
            "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
            "SubscribeURL": f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
                            f"&TopicArn={TOPIC}&Token={token}",
            "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def refusal(message: dict[str, str], certificates: CertificateCache, **kwargs: object) -> ReceiptRejected:
    """The ReceiptRejected that verifying `message` raises."""
    with pytest.raises(ReceiptRejected) as refused:
        verify(message, topics=frozenset({TOPIC, OTHER_TOPIC}), certificates=certificates, **kwargs)
    return refused.value


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_verifies_with_either_signature_version(signer, certificates, version):
    message = checked(sign(signer, notification(SECRET), version=version))
    verify(message, topics=frozenset({TOPIC}), certificates=certificates)


def test_a_notifications_subject_is_signed_too(signer, certificates):
    signed = sign(signer, {**notification("{}"), "Subject": "Amazon SES Email Event Notification"})
    verify(checked(signed), topics=frozenset({TOPIC}), certificates=certificates)
    assert refusal(checked({**signed, "Subject": "changed"}), certificates).field == "Signature"


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_subscription_confirmation_verifies_and_is_confirmed_at_its_subscribe_url(
        signer, certificates, version):
    message = checked(sign(signer, confirmation(), version=version))
    verify(message, topics=frozenset({TOPIC}), certificates=certificates)
    got: list[str] = []
    confirm(message, get=lambda url: got.append(url) or 200)
    assert got == [message["SubscribeURL"]]


def test_a_signed_unsubscribe_confirmation_verifies(signer, certificates):
    message = checked(sign(signer, confirmation("UnsubscribeConfirmation"), version="2"))
    verify(message, topics=frozenset({TOPIC}), certificates=certificates)


@pytest.mark.parametrize(("field", "value"), [
    ("Message", '{"notificationType": "Bounce"}'),
    ("TopicArn", OTHER_TOPIC),  # on the allow-list, but not the topic that was signed
    ("MessageId", str(uuid.uuid4())),
    ("Signature", "not base64 at all!"),
    ("Signature", base64.b64encode(os.urandom(256)).decode()),
])
def test_a_tampered_notification_is_refused_as_a_bad_signature(signer, certificates, field, value):
    signed = sign(signer, notification(SECRET))
    assert refusal(checked({**signed, field: value}), certificates).field == "Signature"


@pytest.mark.parametrize("field", ["Token", "SubscribeURL"])
def test_a_tampered_confirmation_is_refused_as_a_bad_signature(signer, certificates, field):
    signed = sign(signer, confirmation())
    value = "https://sns.eu-west-1.amazonaws.com/?Action=Other" if field == "SubscribeURL" else "x"
    assert refusal(checked({**signed, field: value}), certificates).field == "Signature"


def test_a_topic_off_the_allow_list_is_refused_before_any_certificate_is_fetched(
        signer, certificates, fetched):
    message = checked(sign(signer, notification("{}", topic="arn:aws:sns:us-east-1:999999999999:x")))
    assert refusal(message, certificates).field == "TopicArn"
    assert fetched == []


def test_a_certificate_url_off_sns_hosts_is_refused_before_it_is_fetched(signer, certificates, fetched):
    evil = {**notification("{}"), "SigningCertURL": "https://evil.com/sns.us-east-1.amazonaws.com/x.pem"}
    assert refusal(checked(sign(signer, evil)), certificates).field == "SigningCertURL"
    assert fetched == []


def test_only_a_timestamp_within_the_hour_before_or_five_minutes_after_now_verifies(signer, certificates):
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    message = checked(sign(signer, {**notification("{}"), "Timestamp": "2026-12-02T10:00:00.000Z"}))
    for now in (at + timedelta(minutes=59), at - timedelta(minutes=4)):
        verify(message, topics=frozenset({TOPIC}), certificates=certificates, now=now)
    for now in (at + timedelta(minutes=61), at - timedelta(minutes=6)):
        assert refusal(message, certificates, now=now).field == "Timestamp"


def test_the_certificate_is_fetched_once_per_url(signer, certificates, fetched):
    other_url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem"
    for _ in range(3):
        verify(checked(sign(signer, notification("{}"))), topics=frozenset({TOPIC}), certificates=certificates)
    verify(checked(sign(signer, {**notification("{}"), "SigningCertURL": other_url})),
           topics=frozenset({TOPIC}), certificates=certificates)
    assert fetched == [CERT_URL, other_url]


def test_a_cached_certificate_is_fetched_again_once_its_ttl_has_passed(signer):
    calls: list[str] = []
    cache = CertificateCache(fetch=lambda url: calls.append(url) or signer.pem, ttl_s=0)
    cache.public_key(CERT_URL)
    cache.public_key(CERT_URL)
    assert calls == [CERT_URL, CERT_URL]


def test_verifications_on_many_threads_share_one_cache(signer, certificates, fetched):
    messages = [checked(sign(signer, notification("{}"))) for _ in range(8)]
    failures: list[Exception] = []

    def run(message: dict[str, str]) -> None:
        try:
            verify(message, topics=frozenset({TOPIC}), certificates=certificates)
        except Exception as e:  # noqa: BLE001 - a failure on a thread is collected, not lost
            failures.append(e)

    threads = [threading.Thread(target=run, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert set(fetched) == {CERT_URL}


@pytest.mark.parametrize("fetch_result", [b"not a certificate", OSError("connection refused")])
def test_an_unreadable_certificate_is_refused_naming_signing_cert_url(signer, fetch_result):
    def fetch(url: str) -> bytes:
        if isinstance(fetch_result, Exception):
            raise fetch_result
        return fetch_result
    message = checked(sign(signer, notification("{}")))
    assert refusal(message, CertificateCache(fetch=fetch)).field == "SigningCertURL"


def test_a_url_whose_certificate_could_not_be_read_is_refused_again_without_a_fetch(signer):
    calls: list[str] = []
    cache = CertificateCache(fetch=lambda url: calls.append(url) or b"not a certificate")
    message = checked(sign(signer, notification("{}")))
    first, second = refusal(message, cache), refusal(message, cache)
    assert calls == [CERT_URL] and (first.field, str(first)) == (second.field, str(second))


def test_the_caches_are_bounded_so_many_urls_keep_few_entries(signer):
    cache = CertificateCache(fetch=lambda url: signer.pem if url.endswith("good.pem") else b"", size=2)
    urls = [f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in range(20)]
    for url in urls:
        with pytest.raises(ReceiptRejected):
            cache.public_key(url)
    for n in range(5):
        cache.public_key(f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}good.pem")
    assert len(cache._refused) == 8 and len(cache._keys) == 2


ENVELOPE = {"SignatureVersion": "1", "Signature": "c2ln", "SigningCertURL": CERT_URL}  # parse_sns does not verify


def without(message: dict[str, str], field: str) -> bytes:
    """The body of `message`, complete but for `field`."""
    return json.dumps({k: v for k, v in {**message, **ENVELOPE}.items() if k != field}).encode()


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    (b"[]", "body"),
    (json.dumps({**notification("{}"), **ENVELOPE, "Type": "Other"}).encode(), "Type"),
    (json.dumps({**notification("{}"), **ENVELOPE, "MessageId": 7}).encode(), "MessageId"),
    (without(notification("{}"), "Message"), "Message"),
    (without(notification("{}"), "SigningCertURL"), "SigningCertURL"),
    (without(confirmation(), "Token"), "Token"),
    (without(confirmation(), "SubscribeURL"), "SubscribeURL"),
])
def test_what_is_not_a_complete_sns_message_is_refused_naming_the_field(body, field):
    with pytest.raises(ReceiptRejected) as refused:
        parse_sns(body)
    assert refused.value.field == field


def test_a_confirmation_is_not_sent_off_sns_hosts_or_taken_as_done_unless_answered_200():
    got: list[str] = []
    evil = {**confirmation(), "SubscribeURL": "https://evil.com/?Action=ConfirmSubscription"}
    with pytest.raises(ReceiptRejected) as refused:
        confirm(evil, get=lambda url: got.append(url) or 200)
    assert (refused.value.field, got) == ("SubscribeURL", [])
    with pytest.raises(ReceiptRejected) as refused:
        confirm(confirmation(), get=lambda url: 403)
    assert refused.value.field == "SubscribeURL"


def test_refusals_never_carry_the_message_or_an_address(signer, certificates):
    signed = sign(signer, notification(SECRET))
    refusals = [refusal(checked({**signed, "Message": SECRET + "!"}), certificates),
                refusal(checked({**signed, "TopicArn": "arn:aws:sns:us-east-1:1:x"}), certificates)]
    with pytest.raises(ReceiptRejected) as refused:
        ses_event(SECRET)
    refusals.append(refused.value)
    with pytest.raises(ReceiptRejected) as refused:
        ses_event(json.dumps({"notificationType": "Open", "mail": {"messageId": SECRET}}))
    refusals.append(refused.value)
    for e in refusals:
        for text in (str(e), e.detail, *(f.message for f in e.errors)):
            assert "314159" not in text and "@" not in text


# AWS's "Examples of event data that Amazon SES publishes to Amazon SNS" (event publishing, with
# eventType), their fields kept and their header lists left out.
PUBLISHED_BOUNCE = {
    "eventType": "Bounce",
    "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
               "bouncedRecipients": [{"emailAddress": "recipient@example.com", "action": "failed",
                                      "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
               "timestamp": "2017-08-05T00:41:02.669Z",
               "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
               "reportingMTA": "dsn; mta.example.com"},
    "mail": {"timestamp": "2017-08-05T00:40:02.012Z", "source": "Sender Name <sender@example.com>",
             "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
             "sendingAccountId": "123456789012",
             "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
             "destination": ["recipient@example.com"], "headersTruncated": False,
             "tags": {"ses:configuration-set": ["ConfigSet"]}},
}
PUBLISHED_COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {"feedbackId": "01000157e4f7f9ee-0f4a61e5-27d4-4dd2-8c9a-2d2d7example-000000",
                  "complaintSubType": None, "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
                  "timestamp": "2017-08-05T00:41:02.669Z",
                  "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                  "complaintFeedbackType": "abuse", "arrivalDate": "2017-08-05T00:41:02.669Z"},
    "mail": {"timestamp": "2017-08-05T00:40:01.123Z", "source": "Sender Name <sender@example.com>",
             "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
             "sendingAccountId": "123456789012",
             "messageId": "EXAMPLEf3f73d99b-c63fb06f-d263-41f8-a0fb-d0dc67d56c07-000000",
             "destination": ["recipient@example.com"], "headersTruncated": False},
}
PUBLISHED_DELIVERY = {
    "eventType": "Delivery",
    "mail": {"timestamp": "2016-10-19T23:20:52.240Z", "source": "sender@example.com",
             "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
             "sendingAccountId": "123456789012",
             "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
             "destination": ["recipient@example.com"], "headersTruncated": False},
    "delivery": {"timestamp": "2016-10-19T23:21:04.133Z", "processingTimeMillis": 11893,
                 "recipients": ["recipient@example.com"], "smtpResponse": "250 2.6.0 Message received",
                 "reportingMTA": "mta.example.com"},
}


@pytest.mark.parametrize(("record", "kind", "permanent", "detail"), [
    (PUBLISHED_BOUNCE, "bounced", True, "Permanent/General"),
    (PUBLISHED_COMPLAINT, "complained", True, "abuse"),
    (PUBLISHED_DELIVERY, "delivered", False, "delivered"),
])
def test_documented_event_publishing_records_are_read(record, kind, permanent, detail):
    event = ses_event(json.dumps(record))
    assert (event.kind, event.permanent, event.detail) == (kind, permanent, detail)
    assert event.message_id == record["mail"]["messageId"]
    assert event.recipients == ("recipient@example.com",)


def test_a_published_transient_bounce_does_not_suppress():
    soft = {**PUBLISHED_BOUNCE, "bounce": {**PUBLISHED_BOUNCE["bounce"], "bounceType": "Transient",
                                           "bounceSubType": "MailboxFull"}}
    event = ses_event(json.dumps(soft))
    assert (event.kind, event.permanent, event.detail) == ("bounced", False, "Transient/MailboxFull")


@pytest.mark.parametrize(("kind", "permanent", "detail"), [
    ("bounced", True, "Permanent/General"), ("complained", True, "abuse"), ("delivered", False, "delivered")])
def test_a_built_notification_reads_back_whole(kind, permanent, detail):
    message_id, at = uuid.uuid4().hex, datetime.now(UTC).isoformat(timespec="milliseconds")
    recipient = f"{uuid.uuid4().hex[:8]}@bounce.example.com"
    event = ses_event(ses_notification(kind, message_id, recipient, at))
    assert event == type(event)(kind, message_id, (recipient,), permanent, detail, at)


# Malformed input is refused naming its field, never raised as another error (a 500).

@pytest.mark.parametrize("url", ["https://sns.us-east-1.amazonaws.com:abc/x.pem",
                                 "https://sns.us-east-1.amazonaws.com:99999/x.pem", "https://[::1/x.pem"])
def test_a_certificate_url_that_does_not_parse_is_refused_naming_it(url):
    with pytest.raises(ReceiptRejected) as refused:
        sns_url(url, "SigningCertURL", pem=True)
    assert refused.value.field == "SigningCertURL"


def test_a_certificate_url_with_control_characters_is_refused():
    with pytest.raises(ReceiptRejected):
        sns_url("https://sns.us-east-1.amazonaws.com\n/x.pem", "SigningCertURL", pem=True)


@pytest.mark.parametrize("record", [
    {"notificationType": "Bounce", "mail": {"messageId": "m"}, "bounce": "x"},
    {"notificationType": "Complaint", "mail": {"messageId": "m"}, "complaint": {"complainedRecipients": ["x"]}},
])
def test_an_ses_event_with_malformed_parts_is_refused_naming_message(record):
    with pytest.raises(ReceiptRejected) as refused:
        ses_event(json.dumps(record))
    assert refused.value.field == "Message"


def test_an_unknown_kind_is_not_built_as_a_delivery():
    with pytest.raises(ValueError):
        ses_notification("bouncd", "m", "x@bounce.example.com", "2026-12-02T10:00:00.000Z")


def test_the_confirmation_url_is_returned_once_checked():
    from shared.snsreceipts import confirmation_url

    message = confirmation()
    assert confirmation_url(message) == message["SubscribeURL"]
