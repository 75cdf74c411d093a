"""What a tenant does with its webhook endpoints and its suppression list, validated: the
library functions behind `/api/webhooks` and `/api/suppressions`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import clock
from shared.bootstrap import Deps
from shared.errors import FieldError, NotFound, ValidationFailed
from shared.hashing import recipient_hash
from shared.hookmarks import Mark
from shared.querying import validated_body
from shared.states import WEBHOOK_EVENTS
from shared.validation import recipient_problem
from shared.webhooks import MAX_ENDPOINTS, Endpoint
from shared.webhooksend import TargetRefused, check_target, new_secret

EVENT_NAMES = tuple(e.value for e in WEBHOOK_EVENTS)
WebhookEventName = Literal["sent", "failed", "expired", "cancelled", "delivered", "bounced", "complained"]
URL_PATTERN = r"^https://[^/?#@\s]+(/\S*)?$"
_MESSAGES = {"extra_forbidden": "is not a field of this request", "missing": "is required",
             "string_type": "must be a string", "list_type": "must be a list of event names",
             "string_too_long": "is too long", "string_too_short": "must not be empty",
             "literal_error": "must name events among "
             + ", ".join(e.value for e in WEBHOOK_EVENTS), "too_short": "must name at least one event"}
_HASH = 64  # hex characters of a keyed hash


class WebhookRequest(BaseModel):
    """The body of `POST /api/webhooks`."""

    model_config = ConfigDict(extra="forbid")
    # The pattern is the document's; the check itself is shared.webhooksend.check_target's, which
    # also takes plain http with WAVECOM_WEBHOOK_ALLOW_PRIVATE=1.
    url: str = Field(min_length=1, max_length=2048, json_schema_extra={"pattern": URL_PATTERN},
                     description="An https URL whose host resolves to public addresses only.")
    events: list[WebhookEventName] | None = Field(default=None, min_length=1,
                                                  description="The events to send (default: all of them).")


class SuppressionRequest(BaseModel):
    """The body of `POST /api/suppressions`."""

    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(min_length=1, max_length=320)


def register(deps: Deps, tenant: str, payload: Any) -> Endpoint:
    """A new endpoint: its URL checked (scheme, and every address it resolves to), its events
    named among those a webhook can have (all of them when not given), its secret made."""
    request: WebhookRequest = validated_body(WebhookRequest, payload, _MESSAGES)
    events: list[str] = list(dict.fromkeys(request.events)) if request.events is not None else list(EVENT_NAMES)
    try:
        check_target(request.url, allow_private=deps.settings.webhook_allow_private)
    except TargetRefused as e:
        raise ValidationFailed([FieldError("url", str(e))]) from None
    if len(deps.webhooks.of_tenant(tenant)) >= MAX_ENDPOINTS:
        raise ValidationFailed([FieldError("url", f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints")])
    return deps.webhooks.create(tenant, request.url, events, new_secret())


def rotate(deps: Deps, tenant: str, webhook_id: str) -> Endpoint:
    """A new secret for an endpoint; the old one keeps signing for 24 hours."""
    return deps.webhooks.rotate(tenant, webhook_id, new_secret())


def send_test(deps: Deps, tenant: str, webhook_id: str) -> dict[str, Any]:
    """Queue a `webhook.test` event to one endpoint (enabled or not); its id, to find it in the
    endpoint's deliveries."""
    endpoint = deps.webhooks.get(tenant, webhook_id)
    mark = Mark("webhook.test", Mark.new("test").id, clock.epoch_ms())
    deps.publisher.publish_webhooks([{"webhookId": endpoint.id, "test": mark.id, "at": mark.at_ms, "attempt": 1}])
    return {"eventId": mark.id, "webhookId": endpoint.id}


def _channel(recipient: str) -> str:
    return "email" if "@" in recipient else "sms" if recipient.startswith("+") else "push"


def suppress(deps: Deps, tenant: str, payload: Any) -> dict[str, Any]:
    """Add a recipient to the tenant's suppression list by hand."""
    request: SuppressionRequest = validated_body(SuppressionRequest, payload, _MESSAGES)
    if why := recipient_problem(_channel(request.recipient), request.recipient):
        raise ValidationFailed([FieldError("recipient", why)])
    added = deps.suppressions.add(tenant, request.recipient, "manual")
    return {"hash": recipient_hash(deps.settings.hash_key, request.recipient), "added": added}


def unsuppress(deps: Deps, tenant: str, recipient_or_hash: str) -> None:
    """Lift a suppression, named by its recipient or by its hash (which keeps the recipient out
    of URLs and access logs); NotFound when there is none."""
    value = recipient_or_hash.strip()
    is_hash = len(value) == _HASH and all(c in "0123456789abcdef" for c in value)
    removed = deps.suppressions.remove_hash(tenant, value) if is_hash else deps.suppressions.remove(tenant, value)
    if not removed:
        raise NotFound("suppression")
