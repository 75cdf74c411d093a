"""SNS messages signed as SNS signs them, with a certificate made here (no AWS involved):
for tests of the receipts route. The canonical string is AWS's documented one."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-receipts"
_KEYS = {"Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
         "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")}


@dataclass(frozen=True)
class Signer:
    """A key and its self-signed certificate, standing in for SNS's."""

    key: rsa.RSAPrivateKey
    pem: bytes
    fetched: list[str] = field(default_factory=list)  # the certificate URLs fetched, in order

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        """`message` with SignatureVersion, SigningCertURL and Signature set."""
        signed = {**message, "SignatureVersion": version, "SigningCertURL": message.get("SigningCertURL", CERT_URL)}
        text = "".join(f"{k}\n{signed[k]}\n" for k in _KEYS[signed["Type"]] if k in signed)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed["Signature"] = base64.b64encode(self.key.sign(text.encode(), padding.PKCS1v15(), digest)).decode()
        return signed


def make_signer() -> Signer:
    """A fresh RSA key and certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return Signer(key, cert.public_bytes(serialization.Encoding.PEM))


def notification(message: str, topic: str = TOPIC) -> dict[str, Any]:
    """An SNS Notification carrying `message`, as posted to an HTTPS subscription (unsigned)."""
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic, "Message": message,
            "Timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def ses_delivery(message_id: str, recipient: str) -> str:
    """An SES Delivery notification (the shape of AWS's documented example)."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({
        "notificationType": "Delivery",
        "mail": {"timestamp": at, "source": "noreply@example.com", "messageId": message_id,
                 "destination": [recipient]},
        "delivery": {"timestamp": at, "processingTimeMillis": 546, "recipients": [recipient],
                     "smtpResponse": "250 ok:  Message 64111812 accepted", "reportingMTA": "a8-70.smtp-out.example"},
    })
