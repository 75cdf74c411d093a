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
import http.client
import json
import re
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cachetools import TTLCache
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
    refused = ReceiptRejected(field, "must be an https URL of an SNS host (sns.<region>.amazonaws.com)")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):  # urlsplit would drop some of them silently
        raise refused
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused from None
    host_ok = parts.scheme == "https" and parts.hostname is not None and SNS_HOST.fullmatch(parts.hostname)
    if not host_ok or "@" in parts.netloc or port not in (None, 443) or (pem and not parts.path.endswith(".pem")):
        raise refused
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)  # SNS's answers are never followed elsewhere


def _fetch(url: str) -> bytes:
    """A certificate over https, at most 16 KB; redirects are not followed."""
    with _OPENER.open(url, timeout=FETCH_TIMEOUT_S) as response:
        data: bytes = response.read(CERT_BYTES + 1)
    if len(data) > CERT_BYTES:
        raise ReceiptRejected("SigningCertURL", "names a certificate over 16 KB")
    return data


class CertificateCache:
    """SNS's signing certificates' public keys, fetched once per URL and kept for `ttl_s`. A URL
    whose fetch failed is refused without a new fetch for `refused_ttl_s`, and both caches are
    bounded, so a caller who knows an allowed topic cannot make each request fetch another URL."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None, ttl_s: float = 3600.0,
                 refused_ttl_s: float = 300.0, size: int = 64) -> None:
        self._fetch = fetch or _fetch
        self._keys: TTLCache[str, rsa.RSAPublicKey] = TTLCache(maxsize=size, ttl=ttl_s)
        self._refused: TTLCache[str, str] = TTLCache(maxsize=size * 4, ttl=refused_ttl_s)  # url -> why
        self._lock = threading.Lock()

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA public key of the certificate at `url` (an SNS URL, checked by the caller)."""
        with self._lock:
            key, refused = self._keys.get(url), self._refused.get(url)
        if key is not None:
            return key
        if refused is not None:
            raise ReceiptRejected("SigningCertURL", refused)
        try:
            key = self._read(url)
        except ReceiptRejected as e:
            with self._lock:
                self._refused[url] = e.errors[0].message
            raise
        with self._lock:
            self._keys[url] = key
        return key

    def _read(self, url: str) -> rsa.RSAPublicKey:
        try:
            key = x509.load_pem_x509_certificate(self._fetch(url)).public_key()
        except (OSError, ValueError, http.client.HTTPException):
            raise ReceiptRejected("SigningCertURL", "names no certificate that could be read") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ReceiptRejected("SigningCertURL", "names a certificate without an RSA key")
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


def confirmation_url(message: dict[str, str]) -> str:
    """A subscription confirmation's SubscribeURL, once checked to be https on an SNS host."""
    return sns_url(message["SubscribeURL"], "SubscribeURL", pem=False)


def confirm(message: dict[str, str], get: Callable[[str], int] | None = None) -> None:
    """Confirm a subscription: GET its SubscribeURL (https on an SNS host only, no redirect)."""
    url = confirmation_url(message)
    try:
        status = (get or _get)(url)
    except (OSError, ValueError, http.client.HTTPException):
        raise ReceiptRejected("SubscribeURL", "could not be reached to confirm the subscription") from None
    if status != 200:
        raise ReceiptRejected("SubscribeURL", f"answered {status} to the confirmation")


def _get(url: str) -> int:
    with _OPENER.open(url, timeout=FETCH_TIMEOUT_S) as response:
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
        return _read_ses(json.loads(message_text))
    except (KeyError, TypeError, AttributeError, ValueError):  # json's errors are ValueErrors
        raise ReceiptRejected("Message", "is not an SES Delivery, Bounce or Complaint event") from None


def _addresses(entries: Any, key: str | None) -> tuple[str, ...]:
    """The addresses of a list of recipients (objects holding `key`, or plain strings)."""
    found = [e.get(key) if key is not None else e for e in (entries or [])]
    if not all(isinstance(a, str) for a in found):
        raise TypeError("a recipient that is not an address")
    return tuple(found)


def _read_ses(event: Any) -> SesEvent:
    kind = _KINDS[event.get("notificationType") or event.get("eventType")]
    mail = event["mail"]
    message_id = mail["messageId"]
    if not isinstance(message_id, str) or not message_id:
        raise TypeError("no message id")
    if kind == "bounced":
        bounce = event.get("bounce") or {}
        recipients = _addresses(bounce.get("bouncedRecipients"), "emailAddress")
        permanent = bounce.get("bounceType") == "Permanent"
        detail = f"{bounce.get('bounceType', '')}/{bounce.get('bounceSubType', '')}"
        at = str(bounce.get("timestamp") or mail.get("timestamp") or "")
    elif kind == "complained":
        complaint = event.get("complaint") or {}
        recipients = _addresses(complaint.get("complainedRecipients"), "emailAddress")
        permanent, detail = True, str(complaint.get("complaintFeedbackType") or "complaint")
        at = str(complaint.get("timestamp") or mail.get("timestamp") or "")
    else:
        delivery = event.get("delivery") or {}
        recipients = _addresses(delivery.get("recipients") or mail.get("destination"), None)
        permanent, detail = False, "delivered"
        at = str(delivery.get("timestamp") or mail.get("timestamp") or "")
    return SesEvent(kind, message_id, recipients, permanent, detail, at)


def ses_notification(kind: str, message_id: str, recipient: str, at: str) -> str:
    """An SES notification in the documented shape: a hard bounce (Permanent/General), a
    complaint (abuse) or a delivery of the message `message_id` to `recipient`; ValueError for
    any other kind."""
    if kind not in _KINDS.values():
        raise ValueError(f"no SES notification of kind {kind!r}")
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
