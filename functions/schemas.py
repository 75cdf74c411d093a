"""The shapes of API responses, for the OpenAPI document (requests use the validating models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from pydantic.config import JsonDict

from shared.hookadmin import WebhookEventName
from shared.states import Event, Status

Channel = Literal["email", "sms", "push"]
ISO_TIME: JsonDict = {"format": "date-time", "examples": ["2026-11-24T13:05:01.123Z"]}
JOB_ID: JsonDict = {"pattern": "^[0-9a-f]{24}$", "examples": ["6b05a10ad2944b3343f56957"]}


Priority = Literal["high", "low"]  # shown when not the default, normal
Accepted = Literal["queued", "pending", "scheduled"]
PRIORITY = "Its lane, when not normal."
SEND_AT = "When it is to be sent; until then it is `scheduled`."
EXPIRES_AT = "When it may no longer be sent (given, or ttlSeconds from sendAt or the create)."
TTL = "As the create gave it."


class JobSummary(BaseModel):
    """What a create answers; the delivery policy's fields when the job has them."""

    id: str = Field(json_schema_extra=JOB_ID)
    status: Accepted
    attempts: int = Field(ge=0)
    maxAttempts: int = Field(ge=1)
    createdAt: str = Field(json_schema_extra=ISO_TIME)
    priority: Priority | None = Field(default=None, description=PRIORITY)
    sendAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=SEND_AT)
    expiresAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=EXPIRES_AT)
    ttlSeconds: int | None = Field(default=None, ge=1, description=TTL)
    redactAfterSeconds: int | None = Field(default=None, ge=0, description="As the create gave it.")


class FieldProblem(BaseModel):
    """One invalid field."""

    field: str
    message: str


class BatchItem(BaseModel):
    """The answer for one item of a batch: its job (accepted) or its field errors (rejected)."""

    index: int = Field(ge=0)
    id: str | None = Field(default=None, json_schema_extra=JOB_ID)
    status: Accepted | None = None
    attempts: int | None = None
    maxAttempts: int | None = None
    createdAt: str | None = Field(default=None, json_schema_extra=ISO_TIME)
    priority: Priority | None = Field(default=None, description=PRIORITY)
    sendAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=SEND_AT)
    expiresAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=EXPIRES_AT)
    ttlSeconds: int | None = Field(default=None, ge=1, description=TTL)
    redactAfterSeconds: int | None = Field(default=None, ge=0, description="As the create gave it.")
    errors: list[FieldProblem] | None = None


class BatchResult(BaseModel):
    """What a batch create answers, items in request order."""

    accepted: int
    rejected: int
    items: list[BatchItem]


class BulkRetryResult(BaseModel):
    """What a bulk retry answers."""

    matched: int = Field(ge=0, description="Failed jobs the filter matched, in all")
    retried: int = Field(ge=0, description="Queued again by this call (at most 1,000; call again for the rest)")


class Job(BaseModel):
    """A notification job."""

    id: str = Field(json_schema_extra=JOB_ID)
    type: Channel
    recipient: str = Field(description="Masked once redacted; an erased job's is the recipient's keyed hash.")
    message: str | None = Field(description="null once redacted.")
    metadata: dict[str, Any]
    status: Status
    attempts: int = Field(ge=0)
    maxAttempts: int = Field(ge=1)
    lastError: str | None
    createdAt: str = Field(json_schema_extra=ISO_TIME)
    updatedAt: str = Field(json_schema_extra=ISO_TIME)
    priority: Priority | None = Field(default=None, description=PRIORITY)
    sendAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=SEND_AT)
    expiresAt: str | None = Field(default=None, json_schema_extra=ISO_TIME, description=EXPIRES_AT)
    ttlSeconds: int | None = Field(default=None, ge=1, description=TTL)
    redactAfterSeconds: int | None = Field(default=None, ge=0, description="As the create gave it.")
    redacted: bool | None = Field(default=None, description="true once its message, metadata and recipient are gone.")


class LogEntry(BaseModel):
    """One event of a job's timeline."""

    id: str
    jobId: str = Field(json_schema_extra=JOB_ID)
    event: Event
    details: dict[str, Any]
    createdAt: str = Field(json_schema_extra=ISO_TIME)


class Problem(BaseModel):
    """An RFC 9457 problem."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Throughput(BaseModel):
    """Jobs sent, failed and expired per bucket of the recent window."""

    since: str = Field(json_schema_extra=ISO_TIME)
    until: str = Field(json_schema_extra=ISO_TIME)
    bucketSeconds: int
    sent: list[int]
    sentPerSecond: list[float]
    failed: list[int]
    failedPerSecond: list[float]
    expired: list[int]
    expiredPerSecond: list[float]


Counts = create_model("Counts", __doc__="The tenant's jobs in each status.",
                      **{s.value: (int, Field(ge=0)) for s in Status})  # type: ignore[call-overload]


class Stats(BaseModel):
    """What the dashboard polls."""

    counts: Counts  # type: ignore[valid-type]
    total: int
    throughput: Throughput
    generatedAt: str = Field(json_schema_extra=ISO_TIME)


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]


WEBHOOK_ID: JsonDict = {"pattern": "^wh_[0-9a-f]{24}$", "examples": ["wh_6b05a10ad2944b3343f56957"]}


class Webhook(BaseModel):
    """A webhook endpoint of the tenant (its secret is shown only when made or rotated)."""

    id: str = Field(json_schema_extra=WEBHOOK_ID)
    url: str
    events: list[WebhookEventName]
    enabled: bool
    disabledReason: str | None = Field(description="Why it was disabled: every try of an event failed.")
    createdAt: str = Field(json_schema_extra=ISO_TIME)


class WebhookWithSecret(Webhook):
    """A new or rotated endpoint, with the secret that signs its deliveries, shown this once."""

    secret: str = Field(pattern="^whsec_", description="Standard Webhooks secret: verify `webhook-signature` with it.")


class WebhookDelivery(BaseModel):
    """One try of one event at one endpoint."""

    webhookId: str = Field(json_schema_extra=WEBHOOK_ID)
    eventId: str = Field(description="The `webhook-id` header: the same on every try of the event.")
    type: str = Field(examples=["notification.sent"])
    jobId: str | None = Field(json_schema_extra=JOB_ID)
    attempt: int = Field(ge=1, le=8)
    at: str = Field(json_schema_extra=ISO_TIME)
    statusCode: int | None = Field(description="The receiver's HTTP status; null when none came back.")
    durationMs: int | None
    error: str | None


class WebhookTestQueued(BaseModel):
    """A test event queued to an endpoint."""

    eventId: str
    webhookId: str = Field(json_schema_extra=WEBHOOK_ID)


class Suppression(BaseModel):
    """A recipient the tenant no longer sends to, masked; matched by its keyed hash."""

    recipient: str = Field(examples=["a***@example.com"])
    hash: str = Field(pattern="^[0-9a-f]{64}$")
    reason: Literal["bounce", "complaint", "manual"]
    createdAt: str = Field(json_schema_extra=ISO_TIME)
    jobId: str | None = Field(default=None, json_schema_extra=JOB_ID, description="The job whose receipt suppressed it.")


class SuppressionAdded(BaseModel):
    """What adding a suppression did."""

    hash: str = Field(pattern="^[0-9a-f]{64}$")
    added: bool = Field(description="False when the recipient was suppressed already.")


class SnsMessage(BaseModel):
    """An SNS HTTP(S) message, as SNS posts it (Content-Type text/plain)."""

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(min_length=1)
    TopicArn: str = Field(min_length=1)
    Message: str = Field(min_length=1)
    Timestamp: str = Field(min_length=1, json_schema_extra=ISO_TIME)
    SignatureVersion: Literal["1", "2"]
    Signature: str = Field(min_length=1)
    SigningCertURL: str = Field(min_length=1)
    Subject: str | None = None
    SubscribeURL: str | None = Field(default=None, description="With the confirmations: the URL that confirms.")
    Token: str | None = Field(default=None, description="With the confirmations.")


class ReceiptResult(BaseModel):
    """What a receipt did."""

    jobId: str | None = Field(default=None, json_schema_extra=JOB_ID, description="null: no job sent that message.")
    event: Literal["delivered", "bounced", "complained"] | None = None
    added: bool | None = None
    suppressed: bool | None = None
    confirmed: bool | None = None
    topicArn: str | None = None
    ignored: str | None = None


class Erasure(BaseModel):
    """An erasure of one recipient's data for the tenant."""

    id: str = Field(pattern="^er_[0-9a-f]{24}$")
    status: Literal["running", "done"] = Field(description="`done` once its final pass, after the lease time, ran.")
    recipientHash: str = Field(pattern="^[0-9a-f]{64}$", description="The recipient's keyed hash: what is kept.")
    createdAt: str = Field(json_schema_extra=ISO_TIME)
    jobs: int = Field(ge=0, description="Jobs erased so far.")
    cancelled: int = Field(ge=0, description="Of them, jobs cancelled before they were sent.")
    finishedAt: str | None = Field(default=None, json_schema_extra=ISO_TIME)


class Settings(BaseModel):
    """How long the tenant's data is kept."""

    retentionDays: int = Field(ge=1, description="Days a finished job is kept, then deleted.")
    redactAfterHours: int = Field(ge=0, description="Hours after which a finished job's message and metadata go.")


class AuditEntry(BaseModel):
    """One export or erasure: which key asked, and when (never a recipient in clear)."""

    action: Literal["export", "erasure"]
    keyId: str | None
    at: str = Field(json_schema_extra=ISO_TIME)
    jobs: int | None = None
    erasureId: str | None = None
    recipientHash: str | None = None
    since: str | None = None
    until: str | None = None
