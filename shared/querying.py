"""Listing jobs: filters, limit and an opaque cursor, validated like request bodies."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import FieldError, ValidationFailed
from shared.states import Status

MAX_LIMIT = 100


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the job with this creation time and id."""

    created_ms: int
    job_id: str

    def encode(self) -> str:
        """The opaque form handed to clients."""
        raw = json.dumps({"t": self.created_ms, "i": self.job_id}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a cursor a client sent back; ValueError if it is not one of ours."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            created, job_id = data["t"], data["i"]
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
            raise ValueError("not a cursor this API returned") from None
        if not isinstance(created, int) or not isinstance(job_id, str) or len(job_id) != 24:
            raise ValueError("not a cursor this API returned")
        return cls(created, job_id)


class ListQuery(BaseModel):
    """The query string of `GET /api/notifications`; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    type: Literal["email", "sms", "push"] | None = None
    recipient: str | None = Field(default=None, min_length=1, max_length=512)
    since: AwareDatetime | None = None
    limit: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None

    def filters(self) -> dict[str, Any]:
        """The equality filters, as store field names and plain values."""
        chosen = {"status": self.status.value if self.status else None, "type": self.type, "recipient": self.recipient}
        return {k: v for k, v in chosen.items() if v is not None}


_MESSAGES = {
    "extra_forbidden": "is not a known parameter",
    "less_than_equal": f"must be at most {MAX_LIMIT}",
    "greater_than_equal": "must be at least 1",
    "int_parsing": "must be a whole number",
    "enum": "must be one of: " + ", ".join(s.value for s in Status),
    "literal_error": "must be one of: email, sms, push",
    "datetime_from_date_parsing": "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z",
    "datetime_parsing": "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z",
    "timezone_aware": "must be an ISO-8601 time with a zone, e.g. 2026-11-24T13:05:01Z",
}


def parse_list_query(query: Mapping[str, list[str]]) -> tuple[ListQuery, Cursor | None]:
    """Validate a list query string; ValidationFailed names each bad parameter."""
    repeated = [FieldError(k, "must be given once") for k, values in query.items() if len(values) > 1]
    if repeated:
        raise ValidationFailed(repeated, "The query has invalid parameters.")
    try:
        parsed = ListQuery.model_validate({k: v[0] for k, v in query.items()})
    except ValidationError as e:
        errors = [
            FieldError(".".join(str(p) for p in item["loc"]) or "query", _MESSAGES.get(item["type"], item["msg"]))
            for item in e.errors()
        ]
        raise ValidationFailed(errors, "The query has invalid parameters.") from None
    try:
        cursor = Cursor.decode(parsed.cursor) if parsed.cursor else None
    except ValueError as e:
        raise ValidationFailed([FieldError("cursor", str(e))], "The query has invalid parameters.") from None
    return parsed, cursor


def since_ms(since: datetime | None) -> int | None:
    """The `since` bound in epoch milliseconds."""
    return None if since is None else int(since.timestamp() * 1000)
