"""SNS HTTP(S) messages carrying SES receipts: parsed, their signature verified, their SES event
read. Pure library: the receipts route and the mock email provider both use it.

Verification follows AWS's documented steps: the certificate URL must be `https` on an SNS host
(`sns.<region>.amazonaws.com`), the topic must be on the allow-list, the signature (version 1,
SHA1 with RSA; version 2, SHA256 with RSA) must match the canonical string SNS signs, and the
message must be recent (no replays). Errors name the field at fault, never an address or the
message itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.errors import FieldError, ValidationFailed

TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_SIGNED = {"Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
           "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                                        "Type")}
_SIGNED["UnsubscribeConfirmation"] = _SIGNED["SubscriptionConfirmation"]
_REQUIRED = ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature",
             "SigningCertURL")
SNS_HOST = re.compile(r"^sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?$")
MAX_AGE = timedelta(hours=1)
MAX_AHEAD = timedelta(minutes=5)
CERT_BYTES = 16 * 1024
FETCH_TIMEOUT_S = 5.0


class ReceiptRejected(ValidationFailed):
    """An SNS message that is malformed or not to be trusted; `field` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([FieldError(field, message)], f"{field} {message}")
        self.field = field


def parse_sns(body: bytes) -> dict[str, str]:
    """The fields of an SNS message, each present and a string."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReceiptRejected("body", "is not an SNS message (not JSON)") from None
    if not isinstance(message, dict):
        raise ReceiptRejected("body", "is not an SNS message (not an object)")
    if message.get("Type") not in TYPES:
        raise ReceiptRejected("Type", f"must be one of {', '.join(TYPES)}")
    required = [*_REQUIRED, *(("SubscribeURL", "Token") if message["Type"] != "Notification" else ())]
    for name in required:
        if not isinstance(message.get(name), str) or not message[name]:
            raise ReceiptRejected(name, "is required")
    return {k: v for k, v in message.items() if isinstance(v, str)}


def sns_url(url: str, field: str, *, pem: bool) -> str:
    """`url` when it is https on an SNS host (and, for a certificate, a .pem file)."""
    parts = urlsplit(url)
    host_ok = parts.scheme == "https" and parts.hostname is not None and SNS_HOST.match(parts.hostname)
    if not host_ok or "@" in parts.netloc or parts.port not in (None, 443) or (pem and not parts.path.endswith(".pem")):
        raise ReceiptRejected(field, "must be an https URL of an SNS host (sns.<region>.amazonaws.com)")
    return url


def _fetch(url: str) -> bytes:
    """A certificate over https, at most 16 KB; redirects are not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with opener.open(url, timeout=FETCH_TIMEOUT_S) as response:
        data: bytes = response.read(CERT_BYTES + 1)
    if len(data) > CERT_BYTES:
        raise ReceiptRejected("SigningCertURL", "names a certificate over 16 KB")
    return data


class CertificateCache:
    """SNS's signing certificates' public keys, fetched once per URL and kept for `ttl_s`."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None, ttl_s: float = 3600.0) -> None:
        self._fetch = fetch or _fetch
        self._ttl_s = ttl_s
        self._keys: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
        self._lock = threading.Lock()

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA public key of the certificate at `url` (an SNS URL, checked by the caller)."""
        with self._lock:
            hit = self._keys.get(url)
        if hit is not None and time.monotonic() - hit[0] < self._ttl_s:
            return hit[1]
        try:
            key = x509.load_pem_x509_certificate(self._fetch(url)).public_key()
        except (OSError, ValueError):
            raise ReceiptRejected("SigningCertURL", "names no certificate that could be read") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ReceiptRejected("SigningCertURL", "names a certificate without an RSA key")
        with self._lock:
            self._keys[url] = (time.monotonic(), key)
        return key


def _timestamp(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)  # Python 3.11 reads a final Z
    except ValueError:
        raise ReceiptRejected("Timestamp", "is not an ISO-8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def verify(message: dict[str, str], *, topics: frozenset[str], certificates: CertificateCache,
           now: datetime | None = None) -> None:
    """Raise ReceiptRejected unless the message comes from SNS, for an allowed topic, now."""
    if message["TopicArn"] not in topics:
        raise ReceiptRejected("TopicArn", "is not a topic this service takes receipts from")
    version = message["SignatureVersion"]
    if version not in ("1", "2"):
        raise ReceiptRejected("SignatureVersion", "must be 1 or 2")
    key = certificates.public_key(sns_url(message["SigningCertURL"], "SigningCertURL", pem=True))
    text = "".join(f"{k}\n{message[k]}\n" for k in _SIGNED[message["Type"]] if k in message)
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        key.verify(signature, text.encode(), padding.PKCS1v15(), digest)
    except (InvalidSignature, binascii.Error, ValueError):
        raise ReceiptRejected("Signature", "does not verify with the SNS certificate") from None
    current = now or datetime.now(UTC)
    at = _timestamp(message["Timestamp"])
    if at < current - MAX_AGE or at > current + MAX_AHEAD:
        raise ReceiptRejected("Timestamp", "is too old or in the future")


def confirm(message: dict[str, str], get: Callable[[str], int] | None = None) -> None:
    """Confirm a subscription: GET its SubscribeURL (https on an SNS host only)."""
    url = sns_url(message["SubscribeURL"], "SubscribeURL", pem=False)
    status = (get or _get)(url)
    if status != 200:
        raise ReceiptRejected("SubscribeURL", f"answered {status} to the confirmation")


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        return int(response.status)


@dataclass(frozen=True)
class SesEvent:
    """An SES delivery event: what happened to which message (the provider id stored at send)."""

    kind: str  # delivered, bounced or complained
    message_id: str
    recipients: tuple[str, ...]
    permanent: bool  # a hard bounce, or a complaint: the recipient is suppressed
    detail: str  # e.g. Permanent/General, or the complaint's feedback type; never an address
    at: str


_KINDS = {"Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained"}


def ses_event(message_text: str) -> SesEvent:
    """The SES event an SNS notification's Message holds (SES notifications, with
    `notificationType`, or event publishing, with `eventType`)."""
    try:
        event = json.loads(message_text)
        kind = _KINDS[event.get("notificationType") or event.get("eventType")]
        mail = event["mail"]
        message_id = str(mail["messageId"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ReceiptRejected("Message", "is not an SES Delivery, Bounce or Complaint event") from None
    if kind == "bounced":
        bounce = event.get("bounce") or {}
        recipients = tuple(r.get("emailAddress", "") for r in bounce.get("bouncedRecipients") or [])
        permanent = bounce.get("bounceType") == "Permanent"
        detail = f"{bounce.get('bounceType', '')}/{bounce.get('bounceSubType', '')}"
        at = str(bounce.get("timestamp") or mail.get("timestamp") or "")
    elif kind == "complained":
        complaint = event.get("complaint") or {}
        recipients = tuple(r.get("emailAddress", "") for r in complaint.get("complainedRecipients") or [])
        permanent, detail = True, str(complaint.get("complaintFeedbackType") or "complaint")
        at = str(complaint.get("timestamp") or mail.get("timestamp") or "")
    else:
        delivery = event.get("delivery") or {}
        recipients = tuple(delivery.get("recipients") or mail.get("destination") or [])
        permanent, detail = False, "delivered"
        at = str(delivery.get("timestamp") or mail.get("timestamp") or "")
    return SesEvent(kind, message_id, recipients, permanent, detail, at)


def ses_notification(kind: str, message_id: str, recipient: str, at: str) -> str:
    """An SES notification in the documented shape: a hard bounce (Permanent/General), a
    complaint (abuse) or a delivery of the message `message_id` to `recipient`."""
    mail = {"timestamp": at, "source": "noreply@wavecom.example", "messageId": message_id, "destination": [recipient]}
    if kind == "bounced":
        body: dict[str, Any] = {"notificationType": "Bounce", "mail": mail, "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General", "timestamp": at, "feedbackId": f"{message_id}-b",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}
    elif kind == "complained":
        body = {"notificationType": "Complaint", "mail": mail, "complaint": {
            "complaintFeedbackType": "abuse", "timestamp": at, "feedbackId": f"{message_id}-c",
            "complainedRecipients": [{"emailAddress": recipient}]}}
    else:
        body = {"notificationType": "Delivery", "mail": mail, "delivery": {
            "timestamp": at, "recipients": [recipient], "smtpResponse": "250 ok", "processingTimeMillis": 500}}
    return json.dumps(body)
