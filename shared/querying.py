"""Listing jobs: filters, limit and an opaque cursor, validated like request bodies."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from shared.errors import FieldError, ValidationFailed
from shared.states import Status

MAX_LIMIT = 100
MAX_BULK_RETRY = 1000  # jobs one bulk retry call moves; `matched` says how many more there are


# A cursor is 24 URL-safe base64 characters: 18 bytes, the creation time in milliseconds (6
# bytes) then the job's ObjectId (12). Every string of that form is a position, so the OpenAPI
# document can say exactly which cursors the API takes.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{24}$"
_TIME_BYTES = 6


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the job with this creation time and id."""

    created_ms: int
    job_id: str

    def encode(self) -> str:
        """The opaque form handed to clients."""
        raw = self.created_ms.to_bytes(_TIME_BYTES, "big") + bytes.fromhex(self.job_id)
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a cursor a client sent back; ValueError if it is not one of ours."""
        if re.fullmatch(CURSOR_PATTERN, token):
            raw = base64.urlsafe_b64decode(token)
            return cls(int.from_bytes(raw[:_TIME_BYTES], "big"), raw[_TIME_BYTES:].hex())
        return cls._decode_json(token)

    @classmethod
    def _decode_json(cls, token: str) -> Cursor:
        # The form of earlier releases, so a `Link` a client holds across an upgrade still works.
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            created, job_id = data["t"], data["i"]
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
            raise ValueError("not a cursor this API returned") from None
        if not isinstance(created, int) or not isinstance(job_id, str) or len(job_id) != 24:
            raise ValueError("not a cursor this API returned")
        return cls(created, job_id)


# RFC 3339's date-time, the `format` the document gives `since` (ASCII digits only).
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
_WHOLE_NUMBER = r"^-?[0-9]+$"


def rfc3339_time(value: Any) -> Any:
    """A time as RFC 3339 writes it (a query string's, a body's), and nothing else (no epoch numbers)."""
    if not isinstance(value, str) or not re.fullmatch(RFC3339, value):
        raise PydanticCustomError("datetime_parsing", "not an RFC 3339 time")
    text = value.upper()
    if text[17:19] == "60":  # a leap second: the last instant of its minute
        text = text[:17] + "59.999999" + text[19:].lstrip(".0123456789")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("datetime_parsing", "not an RFC 3339 time") from None


def _whole_number(value: Any) -> Any:
    """A query string's integer in plain decimal digits (not `1.0`, `+2` or `1_0`)."""
    if isinstance(value, str) and not re.fullmatch(_WHOLE_NUMBER, value):
        raise PydanticCustomError("int_parsing", "not a whole number")
    return value


class ListQuery(BaseModel):
    """The query string of `GET /api/notifications`; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    type: Literal["email", "sms", "push"] | None = None
    recipient: str | None = Field(default=None, min_length=1, max_length=512)
    since: Annotated[AwareDatetime, BeforeValidator(rfc3339_time)] | None = None
    limit: Annotated[int, BeforeValidator(_whole_number)] = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    # The document states the pattern; decoding decides (it also reads the older form).
    cursor: str | None = Field(default=None, json_schema_extra={"pattern": CURSOR_PATTERN})

    def filters(self) -> dict[str, Any]:
        """The equality filters, as store field names and plain values."""
        chosen = {"status": self.status.value if self.status else None, "type": self.type, "recipient": self.recipient}
        return {k: v for k, v in chosen.items() if v is not None}


class RetryFilter(BaseModel):
    """The body of `POST /api/notifications/retry`: which failed jobs to queue again."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["failed"] = Field(description="Only failed jobs can be retried.")
    type: Literal["email", "sms", "push"] | None = None
    recipient: StrictStr | None = Field(default=None, min_length=1, max_length=512)
    since: Annotated[AwareDatetime, BeforeValidator(rfc3339_time)] | None = Field(
        default=None, description="Only jobs created at or after this time.")
    dryRun: StrictBool = Field(default=False, description="Count the matching jobs and change nothing.")

    def filters(self) -> dict[str, Any]:
        """The equality filters besides the status, as store field names and plain values."""
        return {k: v for k, v in {"type": self.type, "recipient": self.recipient}.items() if v is not None}


_TIME = "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z"
_MESSAGES = {
    "extra_forbidden": "is not a known parameter",
    "less_than_equal": f"must be at most {MAX_LIMIT}",
    "greater_than_equal": "must be at least 1",
    "int_parsing": "must be a whole number",
    "enum": "must be one of: " + ", ".join(s.value for s in Status),
    "literal_error": "must be one of: email, sms, push",
    "datetime_from_date_parsing": _TIME,
    "datetime_parsing": _TIME,
    "datetime_type": _TIME,
    "timezone_aware": _TIME,
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most 512 characters",
}
_BODY_MESSAGES = {**_MESSAGES, "extra_forbidden": "is not a known field"}
# Where a field's own rule reads better than the generic one.
_FIELD_MESSAGES = {("status", "literal_error"): 'must be "failed": only failed jobs can be retried'}

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, detail: str, messages: Mapping[str, str]) -> M:
    """`data` as `model`, or ValidationFailed naming each bad field in the words of `messages`."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = []
        for item in e.errors():
            field = ".".join(str(p) for p in item["loc"]) or "body"
            message = _FIELD_MESSAGES.get((field, item["type"])) or messages.get(item["type"], item["msg"])
            errors.append(FieldError(field, message))
        raise ValidationFailed(errors, detail) from None


def parse_list_query(query: Mapping[str, list[str]]) -> tuple[ListQuery, Cursor | None]:
    """Validate a list query string; ValidationFailed names each bad parameter."""
    repeated = [FieldError(k, "must be given once") for k, values in query.items() if len(values) > 1]
    if repeated:
        raise ValidationFailed(repeated, "The query has invalid parameters.")
    parsed = validated(ListQuery, {k: v[0] for k, v in query.items()}, "The query has invalid parameters.",
                        _MESSAGES)
    try:
        cursor = None if parsed.cursor is None else Cursor.decode(parsed.cursor)
    except ValueError as e:
        raise ValidationFailed([FieldError("cursor", str(e))], "The query has invalid parameters.") from None
    return parsed, cursor


def validated_body(model: type[M], payload: Any, messages: Mapping[str, str]) -> M:
    """A decoded request body as `model`: ValidationFailed naming `body` when it is not a JSON
    object, else each bad field in the words of `messages`."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    return validated(model, payload, "The request has invalid fields.", messages)


def parse_retry_filter(payload: Any) -> RetryFilter:
    """Validate a bulk retry body; ValidationFailed names each bad field."""
    return validated_body(RetryFilter, payload, _BODY_MESSAGES)


def since_ms(since: datetime | None) -> int | None:
    """The `since` bound in epoch milliseconds."""
    return None if since is None else int(since.timestamp() * 1000)
