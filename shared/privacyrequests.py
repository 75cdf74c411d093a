"""What the data-protection routes accept, validated: an erasure's recipient, an export's window,
a tenant's retention."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from shared.errors import FieldError, ValidationFailed
from shared.querying import CURSOR_PATTERN, Cursor, rfc3339_time, validated, validated_body

_MESSAGES = {"extra_forbidden": "is not a field of this request", "missing": "is required",
             "string_type": "must be a string", "string_too_short": "must not be empty",
             "string_too_long": "is too long", "int_type": "must be a whole number of days",
             "greater_than_equal": "must be at least 1", "less_than_equal": "must be at most the deployment's",
             "datetime_parsing": "must be an RFC 3339 time", "timezone_aware": "must be an RFC 3339 time",
             "datetime_from_date_parsing": "must be an RFC 3339 time"}
Time = Annotated[AwareDatetime, BeforeValidator(rfc3339_time)]


class ErasureRequest(BaseModel):
    """The body of `POST /api/erasures`."""

    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(min_length=1, max_length=512, description="The person's address or number, as sent to.")


class ExportQuery(BaseModel):
    """The query of `GET /api/notifications/export`."""

    model_config = ConfigDict(extra="forbid")
    since: Time | None = Field(default=None, description="Jobs created at or after this time.")
    until: Time | None = Field(default=None, description="Jobs created at or before this time.")
    cursor: str | None = Field(default=None, json_schema_extra={"pattern": CURSOR_PATTERN})


class RetentionRequest(BaseModel):
    """The body of `PUT /api/settings`: the tenant's own retention (null: the deployment's)."""

    model_config = ConfigDict(extra="forbid")
    retentionDays: int | None = Field(ge=1, description="Days a finished job is kept; at most the deployment's.")


def parse_erasure(payload: Any) -> ErasureRequest:
    """An erasure's body; ValidationFailed names each bad field (never echoing the recipient)."""
    return validated_body(ErasureRequest, payload, _MESSAGES)


def parse_retention(payload: Any, most: int) -> RetentionRequest:
    """A retention setting, at most the deployment's `most` days."""
    request: RetentionRequest = validated_body(RetentionRequest, payload, _MESSAGES)
    if request.retentionDays is not None and request.retentionDays > most:
        raise ValidationFailed([FieldError("retentionDays", f"must be at most {most}, the deployment's retention")])
    return request


def parse_export(query: Mapping[str, list[str]]) -> tuple[datetime | None, datetime | None, Cursor | None]:
    """An export's window and cursor."""
    repeated = [FieldError(k, "must be given once") for k, v in query.items() if len(v) > 1]
    if repeated:
        raise ValidationFailed(repeated, "The query has invalid parameters.")
    parsed: ExportQuery = validated(ExportQuery, {k: v[0] for k, v in query.items()},
                                    "The query has invalid parameters.", _MESSAGES)
    try:
        cursor = None if parsed.cursor is None else Cursor.decode(parsed.cursor)
    except ValueError as e:
        raise ValidationFailed([FieldError("cursor", str(e))], "The query has invalid parameters.") from None
    return parsed.since, parsed.until, cursor
