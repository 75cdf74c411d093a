"""Fault injection for boto3 clients: a service's own error answer, or a network failure, in
place of the real call. botocore's parser and retry logic then run as they would against AWS.

Point the client at FAULT_ENDPOINT (AWS_ENDPOINT_URL) first: moto ignores that host, so the
injected answer is the only one, and a call nothing answers is refused at once on loopback
instead of reaching a real AWS account.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

FAULT_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens there
# Query-protocol namespaces of the services the providers use (SES v1 and SNS).
NAMESPACES = {"ses": "http://ses.amazonaws.com/doc/2010-12-01/", "sns": "http://sns.amazonaws.com/doc/2010-03-31/"}


class _Body(io.BytesIO):
    """A raw HTTP body as botocore reads it (`stream()`)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(4096):
            yield chunk


def _event(client: Any, operation: str) -> str:
    return f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"


def answer_with(client: Any, operation: str, status: int, code: str, message: str) -> list[str]:
    """Make every `operation` call of `client` get this XML error answer; returns the request
    URLs seen, one per attempt the SDK made."""
    service = client.meta.service_model.service_id.hyphenize()
    fault = "Sender" if status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{NAMESPACES[service]}"><Error><Type>{fault}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    attempts: list[str] = []

    def respond(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        headers = HTTPHeaders()
        headers["Content-Type"] = "text/xml"
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return AWSResponse(request.url, status, headers, _Body(body))

    client.meta.events.register_first(_event(client, operation), respond)
    return attempts


def fail_network(client: Any, operation: str, error: Callable[..., Exception]) -> list[str]:
    """Make every `operation` call of `client` fail in transport with `error` (a botocore
    timeout or connection error); returns the request URLs seen."""
    attempts: list[str] = []

    def broken(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise error(endpoint_url=request.url)

    client.meta.events.register_first(_event(client, operation), broken)
    return attempts


def record_params(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every `operation` call `client` makes from now on (observation only)."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    client.meta.events.register(f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}.{operation}", record)
    return seen
