"""The interface every delivery provider implements, mock and real alike."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """What a provider returns for an accepted message: the provider's id for it, and, from the
    mock email provider only, the SES notification (JSON text) it produces about the message
    once sent (a bounce, a complaint, a delivery), handled as a receipt from SNS would be."""

    message_id: str
    feedback: str | None = None


class Provider(ABC):
    """Sends one notification on one channel.

    Raises TransientProviderError when a later try may succeed and PermanentProviderError when
    none can. Error messages must not contain the recipient or the message body.
    """

    name: str  # as configuration, events and metrics name it: mock, mock2, ses, sns
    channel: str

    @abstractmethod
    def send(
        self,
        *,
        job_id: str,
        recipient: str,
        message: str,
        metadata: Mapping[str, Any],
        attempt: int,
    ) -> Receipt:
        """Deliver `message` to `recipient`; `job_id` doubles as the idempotency key."""
