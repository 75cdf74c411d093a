"""What the AWS providers share: client settings, clients made on first use, error translation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from shared.errors import PermanentProviderError, ProviderError, TransientProviderError

# Our own retry policy (RabbitMQ delay queues) does the backoff, so the SDK tries twice at most.
# Worst case per call: 2 x (connect 2 s + read 5 s) + at most 1 s of SDK backoff, well inside
# the 30 s lease, after which another worker could take the job and send it again.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5
SDK_ATTEMPTS = 2

# Codes any AWS service may answer with that a later try can cure; each service adds its own.
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "TooManyRequestsException",
    "RequestLimitExceeded", "ServiceUnavailable", "ServiceUnavailableException",
    "InternalFailure", "InternalError", "InternalServerError", "RequestTimeout",
    "RequestTimeoutException", "PriorRequestNotComplete", "ExpiredToken", "ExpiredTokenException",
    "RequestExpired",
})

C = TypeVar("C")


def client_config(pool: int) -> Config:
    """Short timeouts, few SDK retries, and a connection pool as large as the worker's prefetch."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": SDK_ATTEMPTS},
        max_pool_connections=max(10, pool),
    )


class LazyClient(Generic[C]):
    """A boto3 client made on first use (never at import or wiring time), then reused."""

    def __init__(self, make: Callable[[], C]) -> None:
        self._make = make
        self._client: C | None = None
        self._lock = threading.Lock()

    def get(self) -> C:
        """The client, made now if this is the first call (thread-safe)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return client


@dataclass(frozen=True)
class ErrorMap:
    """How one AWS service's failures become transient or permanent provider errors.

    Messages name the error code or exception type only: AWS messages often echo the recipient.
    A code in neither set is transient for a 5xx or 429 answer and permanent otherwise.
    """

    service: str
    transient: frozenset[str]
    permanent: frozenset[str]

    def translate(self, error: ClientError | BotoCoreError) -> ProviderError:
        """The project's error for one failed SDK call."""
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code") or "Unknown")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in self.permanent:
                return PermanentProviderError(f"{self.service} rejected the message ({code})")
            if code in self.transient or code in TRANSIENT_CODES or status >= 500 or status == 429:
                return TransientProviderError(f"{self.service} is unavailable ({code})")
            return PermanentProviderError(f"{self.service} rejected the message ({code})")
        name = type(error).__name__
        if isinstance(error, ParamValidationError):
            return PermanentProviderError(f"{self.service} refused the request ({name})")
        if isinstance(error, (EndpointUnreachable, HTTPClientError)):
            return TransientProviderError(f"{self.service} could not be reached ({name})")
        # Credentials and other SDK-side failures (an instance metadata service that did not
        # answer in time, say) are worth another try; the job's budget bounds them.
        return TransientProviderError(f"{self.service} call failed ({name})")

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Run SDK calls, raising the project's errors in place of botocore's."""
        try:
            yield
        except (ClientError, BotoCoreError) as e:
            # `from None`: the botocore error's text may hold the recipient; keep it out of traces.
            raise self.translate(e) from None
