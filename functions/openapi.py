"""The OpenAPI 3.1 document, built from the route table and the models that validate requests."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions import schemas
from functions.http import Request, Response, json_response
from shared.bootstrap import Deps
from shared.hookadmin import SuppressionRequest, WebhookRequest
from shared.idempotency import KEY_PATTERN
from shared.privacyrequests import ErasureRequest, ExportQuery, RetentionRequest
from shared.querying import ListQuery, RetryFilter
from shared.stats import BUCKET_SECONDS, WINDOW_SECONDS
from shared.validation import (
    CHANNEL_RULES,
    INT64,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    METADATA_KEY,
    NOT_BLANK,
    CreateNotification,
)

Doc = dict[str, Any]
REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
MODELS: list[type[BaseModel]] = [
    CreateNotification, schemas.JobSummary, schemas.Job, schemas.LogEntry, schemas.Problem, schemas.Stats,
    schemas.Health, schemas.BatchResult, RetryFilter, schemas.BulkRetryResult, WebhookRequest,
    schemas.Webhook, schemas.WebhookWithSecret, schemas.WebhookDelivery, schemas.WebhookTestQueued,
    SuppressionRequest, schemas.Suppression, schemas.SuppressionAdded, schemas.SnsMessage, schemas.ReceiptResult,
    ErasureRequest, RetentionRequest, schemas.Erasure, schemas.Settings, schemas.AuditEntry,
]
PROBLEMS = {
    400: "Invalid input; `errors` names each field.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The SNS signature, its certificate or the topic is not trusted.",
    404: "No such notification, webhook, suppression or erasure (or it belongs to another tenant).",
    409: "The notification's status does not allow this, or the Idempotency-Key is in use.",
    413: "The body is over 1 MB.",
    415: "The body is not application/json.",
    422: "The Idempotency-Key was used with a different body.",
    429: "Over the tenant's rate limit; see Retry-After.",
    503: "The store or the broker is unavailable (try again), or a setting the request needs is missing.",
}
CREATE_EXAMPLE = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456",
                  "metadata": {"customerRef": "C-1042"}, "priority": "high", "ttlSeconds": 300}
OPTIONAL_TIMES = ("sendAt", "expiresAt", "ttlSeconds", "redactAfterSeconds")
JOB_ID_PARAM = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "string", "examples": ["6b05a10ad2944b3343f56957"]}}
IDEMPOTENCY_KEY_PARAM = {"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "pattern": KEY_PATTERN}}
# GET /api/stats's window: (least, most, default) seconds, as shared.stats.window_from_query
# checks them (tests/integration/test_openapi.py holds the two together).
STATS_QUERY = {"windowSeconds": (10, 3600, WINDOW_SECONDS), "bucketSeconds": (1, 300, BUCKET_SECONDS)}
STATS_BUCKETS = "must divide windowSeconds into at most 720 buckets"
WEBHOOK_ID_PARAM = {"name": "id", "in": "path", "required": True,
                    "schema": {"type": "string", "examples": ["wh_6b05a10ad2944b3343f56957"]}}
ERASURE_ID_PARAM = {"name": "id", "in": "path", "required": True,
                    "schema": {"type": "string", "examples": ["er_6b05a10ad2944b3343f56957"]}}
RECIPIENT_PARAM = {"name": "recipient", "in": "path", "required": True,
                   "description": "The recipient, or its hash (which keeps it out of URLs and access logs).",
                   "schema": {"type": "string", "examples": ["ada@bounce.example.com"]}}
WEBHOOK_URL = "https://hooks.example.com/wavecom"
WEBHOOK_EXAMPLE = {"url": WEBHOOK_URL, "events": ["sent", "failed", "bounced"]}
# Where a created job's id leads: the operations that take it.
CREATE_LINKS = {"GetNotification": "get", "NotificationLogs": "logs", "RetryNotification": "retry",
                "CancelNotification": "cancel"}


@dataclass(frozen=True)
class Operation:
    """What the document says of one route."""

    summary: str
    ok: tuple[int, str | None, str]  # status, schema (None: free-form), description
    problems: tuple[int, ...] = ()
    body: str | None = None
    query: type[BaseModel] | None = None
    params: list[Doc] = field(default_factory=list)
    list_of: bool = False
    content_type: str = "application/json"
    batch: bool = False  # the body is an array of `body`, and some may be refused (207)
    # Answers a client may meet whatever it sends: they depend on the job's state (409), on what
    # was done before (a recipient suppressed already, 200), or on what an exported request
    # cannot carry (an SNS signature, 403). The Postman tests accept them.
    situational: tuple[int, ...] = ()
    example: Any = None  # the request body's example (default: a create)
    also: tuple[tuple[int, str], ...] = ()  # other successful answers, in the same shape


OPERATIONS: dict[str, Operation] = {
    "create": Operation("Create a notification", (201, "JobSummary", "Accepted: queued, or pending while the broker is away"),
                        (400, 409, 413, 415, 422), body="CreateNotification",
                        params=[IDEMPOTENCY_KEY_PARAM]),
    "batch": Operation("Create up to 1,000 notifications", (201, "BatchResult", "All accepted"),
                       (400, 409, 413, 415, 422), body="CreateNotification", batch=True,
                       params=[IDEMPOTENCY_KEY_PARAM]),
    "bulkRetry": Operation("Retry the failed notifications a filter selects",
                           (202, "BulkRetryResult", "Up to 1,000 queued again; `matched` counts every match"),
                           (400, 409, 413, 415, 422), body="RetryFilter", params=[IDEMPOTENCY_KEY_PARAM],
                           example={"status": "failed", "type": "sms"},
                           also=((200, "A dry run: the matching jobs counted, nothing changed"),)),
    "list": Operation("List notifications, newest first", (200, "Job", "A page of at most `limit` jobs (fewer past 5 MB); `Link: <...>; rel=\"next\"` when there are more"),
                      (400,), query=ListQuery, list_of=True),
    "get": Operation("Get a notification", (200, "Job", "The job"), (404,), params=[JOB_ID_PARAM]),
    "logs": Operation("A notification's timeline", (200, "LogEntry", "Its events, oldest first"), (404,),
                      params=[JOB_ID_PARAM], list_of=True),
    "retry": Operation("Retry a failed notification", (202, "Job", "Queued again with a fresh attempt budget"),
                       (404, 409), params=[JOB_ID_PARAM], situational=(409,)),
    "cancel": Operation("Cancel a notification not yet being sent", (200, "Job", "Cancelled"), (404, 409),
                        params=[JOB_ID_PARAM], situational=(409,)),
    "jobDeliveries": Operation("A notification's webhook deliveries", (200, "WebhookDelivery",
                               "Every try at every endpoint, newest first"), (404,), params=[JOB_ID_PARAM],
                               list_of=True),
    "createWebhook": Operation("Register a webhook endpoint", (201, "WebhookWithSecret",
                               "Registered; its secret is shown this once"), (400, 413, 415),
                               body="WebhookRequest", example=WEBHOOK_EXAMPLE),
    "listWebhooks": Operation("The tenant's webhook endpoints", (200, "Webhook", "Without their secrets"),
                              list_of=True),
    "deleteWebhook": Operation("Remove a webhook endpoint", (204, None, "Removed"), (404,),
                               params=[WEBHOOK_ID_PARAM]),
    "webhookDeliveries": Operation("An endpoint's latest deliveries", (200, "WebhookDelivery", "Newest first"),
                                   (404,), params=[WEBHOOK_ID_PARAM], list_of=True),
    "enableWebhook": Operation("Enable a disabled endpoint", (200, "Webhook", "Enabled"), (404,),
                               params=[WEBHOOK_ID_PARAM]),
    "rotateWebhook": Operation("Rotate an endpoint's secret", (200, "WebhookWithSecret",
                               "The new secret, shown this once; the old one signs for 24 hours more"), (404,),
                               params=[WEBHOOK_ID_PARAM]),
    "testWebhook": Operation("Send a test event to an endpoint", (202, "WebhookTestQueued", "Queued"), (404,),
                             params=[WEBHOOK_ID_PARAM]),
    "listSuppressions": Operation("The tenant's suppressed recipients, masked", (200, "Suppression",
                                  "Newest first"), list_of=True),
    "addSuppression": Operation("Suppress a recipient", (201, "SuppressionAdded", "Added"), (400, 413, 415),
                                body="SuppressionRequest", example={"recipient": "ada@example.com"},
                                also=((200, "It was suppressed already"),), situational=(200,)),
    "removeSuppression": Operation("Lift a suppression", (204, None, "Lifted"), (404,), params=[RECIPIENT_PARAM]),
    "snsReceipt": Operation("An SES receipt (or subscription confirmation) from SNS", (200, "ReceiptResult",
                            "Verified and handled"), (400, 403), body="SnsMessage", situational=(403,), example={
                                "Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
                                "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-receipts",
                                "Message": "{\"notificationType\":\"Bounce\", ...}",
                                "Timestamp": "2026-11-24T13:05:01.123Z", "SignatureVersion": "1",
                                "Signature": "EXAMPLE...",
                                "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem"}),
    "export": Operation("Export the tenant's jobs", (200, None, ("NDJSON, a job a line (redacted ones as they are "
                        "kept), newest first, at most 1,000 lines and 5 MB; `Link: <...>; rel=\"next\"` when there are more")),
                        (400,), query=ExportQuery, content_type="application/x-ndjson"),
    "createErasure": Operation("Erase a recipient's data", (202, "Erasure", ("Erased now; `done` after its final "
                               "pass")), (400, 413, 415), body="ErasureRequest", example={"recipient": "ada@example.com"}),
    "getErasure": Operation("An erasure's progress", (200, "Erasure", "Running or done"), (404,),
                            params=[ERASURE_ID_PARAM]),
    "getSettings": Operation("How long the tenant's data is kept", (200, "Settings", "Its retention")),
    "putSettings": Operation("Set the tenant's own, shorter retention", (200, "Settings", "Its retention now"),
                             (400, 413, 415), body="RetentionRequest", example={"retentionDays": 7}),
    "audits": Operation("The tenant's exports and erasures", (200, "AuditEntry", "Newest first"), list_of=True),
    "stats": Operation("Counts by status and jobs sent per second", (200, "Stats", "For the dashboard"), (400,),
                       params=[{"name": name, "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default},
                                **({"description": STATS_BUCKETS} if name == "bucketSeconds" else {})}
                               for name, (low, high, default) in STATS_QUERY.items()]),
    "health": Operation("The process is up", (200, "Health", "Up")),
    "ready": Operation("The store and the broker answer", (200, None, "Ready"), (503,)),
    "metrics": Operation("Prometheus metrics", (200, None, "Text exposition format"), content_type="text/plain"),
    "openapi": Operation("This document", (200, None, "OpenAPI 3.1")),
}


def _query_params(model: type[BaseModel]) -> list[Doc]:
    schema = model.model_json_schema(ref_template=REF)
    return [{"name": name, "in": "query", "required": False, "schema": _not_null(prop)}
            for name, prop in schema.get("properties", {}).items()]


def _not_null(prop: Doc) -> Doc:
    # An optional query parameter is left out, never sent as null.
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default") or (k == "default" and v is not None)}
    return {**rest, **branches[0]} if len(branches) == 1 else rest


def _problem(status: int) -> Doc:
    return {"description": PROBLEMS.get(status, "Problem"),
            "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}}


def _operation(route: Any, op: Operation) -> Doc:
    status, model, description = op.ok
    schema: Doc = {"$ref": REF.format(model=model)} if model else {}
    if op.list_of:
        schema = {"type": "array", "items": schema}
    answer: Doc = {"description": description}
    if status != 204:
        answer["content"] = {op.content_type: {"schema": schema}}
    doc: Doc = {"operationId": route.name, "summary": op.summary, "responses": {str(status): answer}}
    if route.name == "create":
        doc["responses"][str(status)]["links"] = {
            name: {"operationId": target, "parameters": {"id": "$response.body#/id"}}
            for name, target in CREATE_LINKS.items()}
    for code, text in op.also:
        doc["responses"][str(code)] = {"description": text, "content": {op.content_type: {"schema": schema}}}
    problems = set(op.problems) | ({401, 429, 503} if not route.public else set())
    for code in sorted(problems):
        doc["responses"][str(code)] = _problem(code)
    params = op.params + (_query_params(op.query) if op.query else [])
    if params:
        doc["parameters"] = params
    if op.body:
        body_schema: Doc = {"$ref": REF.format(model=op.body)}
        example: Any = CREATE_EXAMPLE if op.example is None else op.example
        if op.batch:
            body_schema = {"type": "array", "items": body_schema, "minItems": 1, "maxItems": 1000}
            example = [CREATE_EXAMPLE, {**CREATE_EXAMPLE, "type": "email", "recipient": "ada@example.com"}]
            doc["responses"]["207"] = {"description": "Some accepted; `items` says which and why not",
                                       "content": {op.content_type: {"schema": schema}}}
        doc["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": body_schema, "example": example}}}
    doc["security"] = [] if route.public else [{"apiKey": []}]
    return doc


def _create_schemas(flat: Doc) -> Doc:
    """The create body as one schema per channel, chosen by `type`, each with its recipient's
    format and its message's limits; the shapes come from the model that validates them."""
    ref = REF.format(model="{}Notification")
    channels: Doc = {}
    for channel, rules in CHANNEL_RULES.items():
        bytes_note = " (UTF-8: a character takes 1 to 4)" if rules.counted_in == "bytes" else ""
        props = {
            **flat["properties"],
            "type": {"type": "string", "const": channel},
            "recipient": {**flat["properties"]["recipient"], **rules.recipient,
                          "description": f"{rules.recipient_hint[0].upper()}{rules.recipient_hint[1:]}."},
            "message": {**flat["properties"]["message"], "minLength": 1, "maxLength": rules.max_message,
                        "pattern": NOT_BLANK,
                        "description": f"Not blank; at most {rules.max_message} {rules.counted_in}{bytes_note}."},
            "metadata": {"$ref": REF.format(model="Metadata")},
            # Optional, never null: left out means none.
            **{name: _not_null(flat["properties"][name]) for name in OPTIONAL_TIMES},
        }
        channels[f"{channel.capitalize()}Notification"] = {
            "type": "object", "title": f"{rules.name} notification", "additionalProperties": False,
            "required": flat["required"], "properties": props,
            "not": {"required": ["expiresAt", "ttlSeconds"], "description": "expiresAt or ttlSeconds, not both"}}
    value = REF.format(model="MetadataValue")
    return {
        "CreateNotification": {
            "title": "CreateNotification", "description": flat["description"],
            "oneOf": [{"$ref": ref.format(c.capitalize())} for c in CHANNEL_RULES],
            "discriminator": {"propertyName": "type",
                              "mapping": {c: ref.format(c.capitalize()) for c in CHANNEL_RULES}}},
        **channels,
        "Metadata": {
            "type": "object", "propertyNames": {"pattern": METADATA_KEY}, "additionalProperties": {"$ref": value},
            "description": f"Free-form; at most {MAX_METADATA_BYTES} bytes as compact JSON and nested at most "
                           f"{MAX_METADATA_DEPTH} levels. Keys hold no '.' or NUL and do not start with '$'."},
        "MetadataValue": {"anyOf": [
            {"type": "string"}, {"type": "number", "minimum": INT64[0], "maximum": INT64[1]}, {"type": "boolean"},
            {"type": "null"}, {"type": "array", "items": {"$ref": value}}, {"$ref": REF.format(model="Metadata")}]},
    }


@functools.cache
def document() -> Doc:
    """The whole OpenAPI 3.1 document."""
    from functions.routes import ROUTES

    _, defs = models_json_schema([(m, "validation") for m in MODELS], ref_template=REF)
    schemas_ = defs.get("$defs", {})
    schemas_.update(_create_schemas(schemas_["CreateNotification"]))
    paths: Doc = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, OPERATIONS[route.name])
    return {
        "openapi": "3.1.0",
        "info": {"title": "WaveCom Notify", "version": "1.0.0",
                 "description": "Email, SMS and push notification jobs: create, track, retry, cancel."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas_,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "A key from `wavecom keys create`"}}},
        "security": [{"apiKey": []}],
    }


def handle(request: Request, deps: Deps) -> Response:
    """GET /api/openapi.json: the document (no key needed)."""
    return json_response(200, document())
