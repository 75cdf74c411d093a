"""Validation of create requests, per channel; every problem names its field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from shared import clock, deadlines
from shared.errors import FieldError, PayloadTooLarge, ValidationFailed
from shared.model import NewJob, Priority
from shared.querying import rfc3339_time

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_ITEMS = 1000
MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024  # a full batch of long emails; every item keeps its own limits
MAX_METADATA_BYTES = 16 * 1024
# Per-channel message limits: email in bytes (100 KB), SMS in characters, push in bytes (4 KB).
EMAIL_MAX_BYTES = 100 * 1024
SMS_MAX_CHARS = 1600
PUSH_MAX_BYTES = 4 * 1024
CHANNELS = ("email", "sms", "push")
MAX_RECIPIENT_CHARS = 512
# Patterns the OpenAPI document states as they are checked here (Python's `re`, whose `\S` is
# what str.strip() keeps). E.164: a plus, a country code not starting with 0, at most 15 digits.
E164 = r"^\+[1-9][0-9]{1,14}$"
NOT_BLANK = r"\S"  # holds a character that is not white space
# A metadata key the store can hold: no '.', no NUL, no leading '$' (the empty key is fine).
METADATA_KEY = r"^([^$.\x00][^.\x00]*)?$"
INT64 = (-(2**63), 2**63 - 1)
MAX_METADATA_DEPTH = 8


@dataclass(frozen=True)
class ChannelRules:
    """What a channel takes. `recipient` holds the JSON Schema keywords a recipient meets; the
    rules JSON Schema cannot state are checked in code below (a plausible phone number, an address
    email-validator accepts, and limits counted in UTF-8 bytes)."""

    name: str
    recipient: dict[str, str]
    recipient_hint: str
    max_message: int
    counted_in: Literal["bytes", "characters"]


CHANNEL_RULES = {
    "email": ChannelRules("email", {"format": "email"}, "a valid email address", EMAIL_MAX_BYTES, "bytes"),
    "sms": ChannelRules("SMS", {"pattern": E164}, "an E.164 phone number, e.g. +2348012345678", SMS_MAX_CHARS,
                        "characters"),
    "push": ChannelRules("push", {"pattern": NOT_BLANK}, "a non-empty device token", PUSH_MAX_BYTES, "bytes"),
}


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def recipient_problem(channel: str, recipient: str) -> str | None:
    """Why `recipient` is not an address of `channel`, or None when it is one."""
    rules = CHANNEL_RULES[channel]
    if channel == "email":
        try:
            validate_email(recipient, check_deliverability=False)
        except EmailNotValidError as e:
            return f"must be {rules.recipient_hint} ({e})"
        return None
    # (Python's `$` also matches before a final newline; phonenumbers refuses that one below.)
    if not re.search(rules.recipient["pattern"], recipient):
        return f"must be {rules.recipient_hint}"
    if channel == "sms" and not _possible_number(recipient):
        return f"must be {rules.recipient_hint}"
    return None


def _possible_number(e164: str) -> bool:
    """Whether phonenumbers reads `e164` back as itself, a number of a possible length."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted == e164 and phonenumbers.is_possible_number(number)


def message_problem(channel: str, message: str) -> str | None:
    """Why `message` is too long (or empty) for `channel`, or None."""
    if not re.search(NOT_BLANK, message):
        return "must not be empty"
    rules = CHANNEL_RULES[channel]
    size = _utf8_len(message) if rules.counted_in == "bytes" else len(message)
    if size > rules.max_message:
        return f"must be at most {rules.max_message} {rules.counted_in} for {rules.name}"
    return None


Time = Annotated[AwareDatetime, BeforeValidator(rfc3339_time)]


def _whole_number(value: Any) -> Any:
    """A JSON integer, which may be written with a zero fraction (`60.0`), as an int; a boolean,
    a string or a fraction stays as it is and is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Seconds = Annotated[StrictInt, Field(ge=1, le=deadlines.MAX_TTL_SECONDS), BeforeValidator(_whole_number)]
MAX_REDACT_SECONDS = 365 * 86400
RedactSeconds = Annotated[StrictInt, Field(ge=0, le=MAX_REDACT_SECONDS), BeforeValidator(_whole_number)]
TIME_HINT = "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z"


class CreateNotification(BaseModel):
    """The body of `POST /api/notifications` (shapes only; channel rules and times follow)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["email", "sms", "push"]
    recipient: StrictStr = Field(min_length=1, max_length=MAX_RECIPIENT_CHARS)
    message: StrictStr
    metadata: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["high", "normal", "low"] = Field(
        default="normal", description="Its lane: high is sent before normal, normal before low.")
    sendAt: Time | None = Field(default=None, description="When to send it, at most 30 days ahead; "
                                "until then it is `scheduled` and can be cancelled. Omitted or past: at once.")
    expiresAt: Time | None = Field(default=None, description="When it may no longer be sent: not handed to a "
                                   "provider by then, it ends `expired`. Not with ttlSeconds.")
    ttlSeconds: Seconds | None = Field(default=None,
                                         description="Seconds it may still be sent, from sendAt when given, else "
                                                     "from the create; then as expiresAt. Not with expiresAt.")

    redactAfterSeconds: RedactSeconds | None = Field(
        default=None, description="Seconds after the job ends (sent, failed, cancelled, expired) before its "
                                  "message and metadata are erased and its recipient masked; 0: at once. "
                                  "Overrides WAVECOM_REDACT_AFTER_HOURS.")

    @field_validator("sendAt", "expiresAt", "ttlSeconds", "redactAfterSeconds", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        """Left out means none; a null given is refused, as the document says."""
        if value is None:
            raise PydanticCustomError("null_given", "must be left out rather than null")
        return value


_MESSAGES = {
    "literal_error": "must be one of: " + ", ".join(CHANNELS),
    "missing": "is required",
    "string_type": "must be a string",
    "dict_type": "must be a JSON object",
    "extra_forbidden": "is not a known field",
    "datetime_parsing": TIME_HINT,
    "datetime_from_date_parsing": TIME_HINT,
    "datetime_type": TIME_HINT,
    "timezone_aware": TIME_HINT,
    "null_given": "must be left out rather than null",
}
# Messages of one field that differ from the same error elsewhere.
_FIELD_MESSAGES = {
    "priority": {"literal_error": "must be one of: " + ", ".join(p.value for p in Priority)},
    "ttlSeconds": dict.fromkeys(("int_type", "greater_than_equal", "less_than_equal"),
                                f"must be a whole number of seconds from 1 to {deadlines.MAX_TTL_SECONDS}"),
    "redactAfterSeconds": dict.fromkeys(("int_type", "greater_than_equal", "less_than_equal"),
                                        f"must be a whole number of seconds from 0 to {MAX_REDACT_SECONDS}"),
}


def _shape_errors(error: ValidationError) -> list[FieldError]:
    errors = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "body"
        message = _FIELD_MESSAGES.get(name, {}).get(item["type"]) or _MESSAGES.get(item["type"], item["msg"])
        errors.append(FieldError(name, message))
    return errors


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON escapes allow and BSON cannot store
        return False
    return True


def _storable_errors(payload: dict[str, Any]) -> list[FieldError]:
    """Problems that would make the store refuse the document, as field errors."""
    errors = [FieldError(f, "must be valid Unicode text") for f in ("recipient", "message")
              if isinstance(payload.get(f), str) and not _is_text(payload[f])]

    def walk(value: Any, path: str, depth: int) -> str | None:
        if depth > MAX_METADATA_DEPTH:
            return f"must not nest deeper than {MAX_METADATA_DEPTH} levels"
        if isinstance(value, str):
            return None if _is_text(value) else "must hold valid Unicode text"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and not INT64[0] <= value <= INT64[1]:  # NaN too: it is within no bounds
            return "numbers must fit in 64 bits"
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if isinstance(key, str) and (not _is_text(key) or not re.fullmatch(METADATA_KEY, key)):
                return "keys must be text without '.', NUL or a leading '$'"
            if (why := walk(item, f"{path}.{key}", depth + 1)) is not None:
                return why
        return None

    metadata = payload.get("metadata")
    if isinstance(metadata, dict) and (why := walk(metadata, "metadata", 1)) is not None:
        errors.append(FieldError("metadata", why))
    return errors


def _channel_errors(payload: dict[str, Any]) -> list[FieldError]:
    channel, recipient, message = payload.get("type"), payload.get("recipient"), payload.get("message")
    if channel not in CHANNELS:
        return []
    errors: list[FieldError] = []
    if isinstance(recipient, str) and recipient and (why := recipient_problem(channel, recipient)):
        errors.append(FieldError("recipient", why))
    if isinstance(message, str) and (why := message_problem(channel, message)):
        errors.append(FieldError("message", why))
    metadata = payload.get("metadata")
    if isinstance(metadata, dict) and _utf8_len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
        errors.append(FieldError("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as JSON"))
    return errors


def parse_json_body(raw: bytes, limit: int = MAX_BODY_BYTES) -> Any:
    """Decode a request body as JSON, or raise ValidationFailed naming `body`."""
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValidationFailed(
            [FieldError("body", f"is not valid JSON ({e})")], "The body is not valid JSON."
        ) from None


def validate_create(payload: Any) -> NewJob:
    """Turn a decoded JSON body into a NewJob, or raise ValidationFailed listing every bad field."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    unstorable = _storable_errors(payload)
    if unstorable:
        raise ValidationFailed(unstorable)
    errors = _channel_errors(payload)
    try:
        req = CreateNotification.model_validate(payload)
    except ValidationError as e:
        shape = _shape_errors(e)
        reported = {f.field for f in shape}
        raise ValidationFailed(shape + [f for f in errors if f.field not in reported]) from None
    send_at, expires_at = _utc(req.sendAt, "sendAt", errors), _utc(req.expiresAt, "expiresAt", errors)
    if errors:
        raise ValidationFailed(errors)
    asked = deadlines.resolve(send_at, expires_at, req.ttlSeconds, clock.now())
    errors += [FieldError(name, message) for name, message in asked.problems]
    if errors:
        raise ValidationFailed(errors)
    return NewJob(type=req.type, recipient=req.recipient, message=req.message, metadata=req.metadata,
                  priority=Priority(req.priority), send_at=asked.send_at, expires_at=asked.expires_at,
                  ttl_seconds=req.ttlSeconds, redact_after_seconds=req.redactAfterSeconds)


def _utc(t: datetime | None, name: str, errors: list[FieldError]) -> datetime | None:
    """A time in UTC to the millisecond, as the store keeps it; a problem when UTC cannot hold it."""
    try:
        return None if t is None else clock.as_utc_ms(t)
    except OverflowError:
        errors.append(FieldError(name, "must fall within the years 1 to 9999 in UTC"))
        return None
