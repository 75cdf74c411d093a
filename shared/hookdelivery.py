"""Delivering webhook events: what `wavecom webhooks` (and the `webhooks` Lambda) does with each
message of `<queue>.webhooks`.

A message names a job and one of its markers (shared.hookmarks): the event goes to every enabled
endpoint of the tenant that subscribes to it, the first try at once; then the marker is pulled.
A message that also names an endpoint and an attempt is a retry to that endpoint alone. A test
event names only an endpoint. Each try is recorded (`webhookdeliveries`); one that fails is
queued again after the next delay of the schedule (WAVECOM_WEBHOOK_RETRY_DELAYS_MS, through
`<queue>.webhooks.retry.<ms>`), and an endpoint that fails an event's last try is disabled
with the reason. Deliveries are at least once and unordered: receivers deduplicate on
`webhook-id`, the marker's id, the same on every try.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from shared import clock
from shared.bootstrap import Deps
from shared.errors import JobNotFound, NotFound, PoisonMessage
from shared.hookmarks import Mark
from shared.model import Job
from shared.webhooks import Endpoint
from shared.webhooksend import Attempt, post, sign

log = logging.getLogger("wavecom.webhooks")
TEST_EVENT = "webhook.test"


def payload(event_type: str, at_ms: int, data: Mapping[str, Any]) -> str:
    """The body of a delivery: `{type, timestamp, data}`."""
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    return json.dumps({"type": event_type, "timestamp": clock.iso(at), "data": dict(data)}, separators=(",", ":"))


def job_data(job: Job) -> dict[str, Any]:
    """A job as a webhook shows it: its JSON without the message and the metadata."""
    data = job.to_json()
    data.pop("message", None)
    data.pop("metadata", None)
    return data


def handle(deps: Deps, body: bytes, pool: ThreadPoolExecutor | None = None) -> None:
    """Handle one message of `<queue>.webhooks`; PoisonMessage if it is not one. Store and broker
    outages propagate: the message is then handled again."""
    try:
        message = json.loads(body)
        webhook_id = message.get("webhookId")
        attempt = int(message.get("attempt", 1))
        if "test" in message:
            endpoint = deps.webhooks.get(None, str(webhook_id))
            data = {"webhookId": endpoint.id, "test": True}
            _try(deps, endpoint, Mark(TEST_EVENT, str(message["test"]), int(message["at"])), None, data, attempt)
            return
        job_id, mark = str(message["jobId"]), Mark.parse(str(message["mark"]))
    except NotFound:
        return  # the endpoint was deleted since
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise PoisonMessage(f"not a webhook message ({type(e).__name__})") from None
    try:
        job = deps.jobs.get(job_id)
    except JobNotFound:
        return  # the job is gone (deleted by retention): nothing left to tell
    if webhook_id is not None:
        try:
            endpoint = deps.webhooks.get(job.tenant, str(webhook_id))
        except NotFound:
            return
        if endpoint.enabled:
            _try(deps, endpoint, mark, job.id, job_data(job), attempt)
        return
    endpoints = deps.webhooks.listening(job.tenant, mark.event)
    data = job_data(job)
    if pool is not None and len(endpoints) > 1:
        list(pool.map(lambda e: _try(deps, e, mark, job.id, data, 1), endpoints))
    else:
        for endpoint in endpoints:
            _try(deps, endpoint, mark, job.id, data, 1)
    deps.jobs.clear_mark(job.id, mark)


def _event_type(mark: Mark) -> str:
    return mark.event if mark.event == TEST_EVENT else f"notification.{mark.event}"


def _try(deps: Deps, endpoint: Endpoint, mark: Mark, job_id: str | None, data: Mapping[str, Any],
         attempt: int) -> Attempt:
    """One try of one event at one endpoint: signed, sent, recorded; then a retry queued, or the
    endpoint disabled after the last."""
    settings = deps.settings
    body = payload(_event_type(mark), mark.at_ms, data)
    keys = endpoint.secrets(clock.epoch_ms())
    headers = sign(keys[0], mark.id, clock.now(), body, keys[1] if len(keys) > 1 else None)
    result = post(endpoint.url, body, headers, allow_private=settings.webhook_allow_private)
    deps.webhooks.record(endpoint, {"eventId": mark.id, "type": _event_type(mark), "jobId": job_id,
                                    "attempt": attempt, "statusCode": result.status_code,
                                    "durationMs": result.duration_ms, "error": result.error})
    fields = {"webhook_id": endpoint.id, "event_id": mark.id, "job_id": job_id, "attempt": attempt,
              "status_code": result.status_code, "duration_ms": result.duration_ms}
    if result.ok:
        log.info("webhook delivered", extra=fields)
        return result
    delays = settings.webhook_retry_delays_ms
    if attempt <= len(delays):
        retry: dict[str, Any] = {"webhookId": endpoint.id, "attempt": attempt + 1}
        retry |= {"test": mark.id, "at": mark.at_ms} if job_id is None else {"jobId": job_id, "mark": mark.text}
        deps.publisher.publish_webhooks([retry], delay_ms=delays[attempt - 1])
        log.warning("webhook failed; retry queued", extra={**fields, "error": result.error,
                                                           "delay_ms": delays[attempt - 1]})
        return result
    reason = (f"disabled after {attempt} failed tries of event {mark.id} "
              f"(last: {result.error or f'HTTP {result.status_code}'})")
    deps.webhooks.disable(endpoint.id, reason)
    log.warning("webhook endpoint disabled", extra={**fields, "error": result.error})
    return result
