"""Queue names and arguments: every queue derives from the one main queue name.

Three priority lanes, `<queue>.high`, `<queue>` (normal) and `<queue>.low`, each consumed on
its own; each lane has its delay queues `<lane>.retry.<ms>` (one per rung of the retry ladder,
made when first used) that dead-letter back to that lane, and every lane dead-letters poison
messages to the one `<queue>.dead`. Webhook deliveries have a queue of their own,
`<queue>.webhooks`, with its delay queues `<queue>.webhooks.retry.<ms>` (one per delay of the
webhook schedule), so a slow receiver never holds a notification's place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.model import Priority
from shared.retry import LADDER_MS

# Quorum queues: replicated and fsynced by RabbitMQ, with a native delivery count
# (x-delivery-limit) that bounds poison messages, and at-least-once dead-lettering so a
# message moving from a delay queue back to its lane cannot be lost on the way.
_QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}
_SAFE_DEAD_LETTERING: dict[str, Any] = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}
LANES: tuple[Priority, ...] = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
# The Standard Webhooks schedule: the delays between an event's 8 tries (the first is at once).
WEBHOOK_RETRY_DELAYS_MS = (5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000)


@dataclass(frozen=True)
class Topology:
    """The queues of one stack: its lanes, their delay queues, and `<queue>.dead`."""

    queue: str = "notification-jobs"
    delivery_limit: int = 5
    webhook_delays: tuple[int, ...] = WEBHOOK_RETRY_DELAYS_MS  # WAVECOM_WEBHOOK_RETRY_DELAYS_MS

    @property
    def dead(self) -> str:
        """The dead-letter queue for poison messages."""
        return f"{self.queue}.dead"

    def lane(self, priority: Priority = Priority.NORMAL) -> str:
        """The queue of a priority lane: `<queue>.high`, `<queue>`, `<queue>.low`."""
        return self.queue if priority is Priority.NORMAL else f"{self.queue}.{priority.value}"

    def delay(self, delay_ms: int, priority: Priority = Priority.NORMAL) -> str:
        """The queue that holds a message of a lane for `delay_ms` (a rung) before the lane; the
        lane itself for no delay."""
        return self.lane(priority) if delay_ms <= 0 else f"{self.lane(priority)}.retry.{delay_ms}"

    @property
    def webhooks(self) -> str:
        """The queue of webhook deliveries, consumed by `wavecom webhooks` alone."""
        return f"{self.queue}.webhooks"

    def webhook_delay(self, delay_ms: int) -> str:
        """The queue that holds a webhook retry for `delay_ms` before `<queue>.webhooks`."""
        return self.webhooks if delay_ms <= 0 else f"{self.webhooks}.retry.{delay_ms}"

    def webhook_delay_arguments(self, delay_ms: int) -> dict[str, Any]:
        """Arguments of a webhook delay queue: per-queue TTL, then dead-lettered to the webhooks queue."""
        return {**_QUORUM, **_SAFE_DEAD_LETTERING, "x-dead-letter-routing-key": self.webhooks,
                "x-message-ttl": delay_ms}

    def queues(self) -> list[str]:
        """Every queue the stack may use: lanes, every rung's delay queues, the dead letters, and
        the webhooks' queue and delay queues."""
        return [*(self.lane(p) for p in LANES), *(self.delay(ms, p) for p in LANES for ms in LADDER_MS), self.dead,
                self.webhooks, *(self.webhook_delay(ms) for ms in sorted(set(self.webhook_delays)))]

    def lane_arguments(self) -> dict[str, Any]:
        """Arguments of a lane."""
        return {
            **_QUORUM,
            **_SAFE_DEAD_LETTERING,
            "x-dead-letter-routing-key": self.dead,
            "x-delivery-limit": self.delivery_limit,
        }

    def dead_arguments(self) -> dict[str, Any]:
        """Arguments of the dead-letter queue."""
        return dict(_QUORUM)

    def delay_arguments(self, delay_ms: int, priority: Priority = Priority.NORMAL) -> dict[str, Any]:
        """Arguments of a delay queue: per-queue TTL, then dead-lettered to its lane."""
        return {
            **_QUORUM,
            **_SAFE_DEAD_LETTERING,
            "x-dead-letter-routing-key": self.lane(priority),
            "x-message-ttl": delay_ms,
        }
