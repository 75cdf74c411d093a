"""POST /api/receipts/sns: SES delivery receipts as SNS posts them. No API key: the SNS
signature and the topic allow-list (WAVECOM_SNS_TOPIC_ARNS) authenticate it."""

from __future__ import annotations

from functions.http import Request, Response, json_response, problem
from shared.bootstrap import Deps
from shared.receipts import apply_ses
from shared.snsreceipts import CertificateCache, ReceiptRejected, confirm, parse_sns, verify

CERTIFICATES = CertificateCache()  # per process: SNS signs with few certificates
UNTRUSTED = frozenset({"Signature", "SignatureVersion", "SigningCertURL", "TopicArn", "Timestamp", "SubscribeURL"})


def handle(request: Request, deps: Deps) -> Response:
    """200 once a verified notification is handled or a subscription confirmed; 403 when the
    signature, certificate or topic is not trusted; 400 for what is not an SNS message."""
    try:
        message = parse_sns(request.body)
        verify(message, topics=frozenset(deps.settings.sns_topic_arns), certificates=CERTIFICATES)
        if message["Type"] == "SubscriptionConfirmation":
            confirm(message)
            return json_response(200, {"confirmed": True, "topicArn": message["TopicArn"]})
        if message["Type"] != "Notification":
            return json_response(200, {"ignored": message["Type"]})
        applied = apply_ses(deps, message["Message"])
    except ReceiptRejected as e:
        if e.field in UNTRUSTED:
            return problem(403, e.detail, slug="receipt-not-trusted", errors=e.errors)
        return problem(400, e.detail, slug="validation-error", errors=e.errors)
    return json_response(200, {"jobId": applied.job_id, "event": applied.event, "added": applied.added,
                               "suppressed": applied.suppressed})
