"""The `webhooks` Lambda's handler: a batch of `<queue>.webhooks` messages, each delivered
concurrently (shared.hookdelivery), like `wavecom webhooks` does one at a time per thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from shared.bootstrap import Deps
from shared.errors import PoisonMessage
from shared.hookdelivery import handle
from shared.messages import Message

DEAD_LETTERED = "dead_lettered"


def handle_batch(messages: list[Message], deps: Deps) -> list[str]:
    """Deliver each message's event; a message that is not a webhook message is dead-lettered.
    A store or broker outage raises, handing the whole batch back (receivers deduplicate the
    deliveries made again on `webhook-id`)."""
    def one(message: Message) -> str:
        try:
            handle(deps, message.body)
        except PoisonMessage as e:
            deps.publisher.dead_letter(message.body, str(e), headers=dict(message.headers))
            return DEAD_LETTERED
        return "handled"

    with ThreadPoolExecutor(max_workers=max(1, min(len(messages), deps.settings.webhook_concurrency))) as pool:
        return list(pool.map(one, messages))
