"""Queue names and arguments: every queue derives from the one main queue name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Quorum queues: replicated and fsynced by RabbitMQ, with a native delivery count
# (x-delivery-limit) that bounds poison messages, and at-least-once dead-lettering so a
# message moving from a delay queue back to the main queue cannot be lost on the way.
_QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}
_SAFE_DEAD_LETTERING: dict[str, Any] = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@dataclass(frozen=True)
class Topology:
    """The queues of one stack: `<queue>`, `<queue>.retry.<ms>` and `<queue>.dead`."""

    queue: str = "notification-jobs"
    delivery_limit: int = 5

    @property
    def dead(self) -> str:
        """The dead-letter queue for poison messages."""
        return f"{self.queue}.dead"

    def delay(self, delay_ms: int) -> str:
        """The delay queue that holds a message for `delay_ms` before the main queue."""
        return f"{self.queue}.retry.{delay_ms}"

    def main_arguments(self) -> dict[str, Any]:
        """Arguments of the main queue."""
        return {
            **_QUORUM,
            **_SAFE_DEAD_LETTERING,
            "x-dead-letter-routing-key": self.dead,
            "x-delivery-limit": self.delivery_limit,
        }

    def dead_arguments(self) -> dict[str, Any]:
        """Arguments of the dead-letter queue."""
        return dict(_QUORUM)

    def delay_arguments(self, delay_ms: int) -> dict[str, Any]:
        """Arguments of a delay queue: per-queue TTL, then dead-lettered to the main queue."""
        return {
            **_QUORUM,
            **_SAFE_DEAD_LETTERING,
            "x-dead-letter-routing-key": self.queue,
            "x-message-ttl": delay_ms,
        }
