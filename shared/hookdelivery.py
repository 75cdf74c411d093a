"""Delivering webhook events: what `wavecom webhooks` (and the `webhooks` Lambda) does with each
message of `<queue>.webhooks`.

A message names the events one write stored, each a job and one of its markers
(shared.hookmarks): each event goes to every enabled endpoint of the job's tenant that subscribes
to it, the first try at once; then its marker is pulled. A message that names one job's marker,
an endpoint and an attempt is a retry to that endpoint alone. A test
event names only an endpoint. Each try is recorded (`webhookdeliveries`); one that fails is
queued again after the next delay of the schedule (WAVECOM_WEBHOOK_RETRY_DELAYS_MS, through
`<queue>.webhooks.retry.<ms>`), and an endpoint that fails an event's last try is disabled
with the reason. Deliveries are at least once and unordered: receivers deduplicate on
`webhook-id`, the marker's id, the same on every try.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import clock
from shared.bootstrap import Deps
from shared.errors import JobNotFound, NotFound, PoisonMessage
from shared.hookmarks import Mark
from shared.jobdocs import object_id
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
    """Handle one message of `<queue>.webhooks` (the events of a write, their tries made on
    `pool`'s threads when given; a retry to one endpoint; a test event); PoisonMessage if it is
    not one. A message's jobs are read in one query, and its tries recorded, its retries queued
    and its markers pulled in one command each, in that order. Store and broker outages
    propagate: the message is then handled again."""
    try:
        message = json.loads(body)
        webhook_id = message.get("webhookId")
        attempt = int(message.get("attempt", 1))
        if "events" in message:
            events = [(str(e["jobId"]), Mark.parse(str(e["mark"]))) for e in message["events"]]
            for job_id, _ in events:
                object_id(job_id)  # JobNotFound: not a job's id
        elif "test" in message:
            test = Mark(TEST_EVENT, str(message["test"]), int(message["at"]))
        else:
            job_id, mark = str(message["jobId"]), Mark.parse(str(message["mark"]))
            object_id(job_id)
    except (ValueError, KeyError, TypeError, AttributeError, JobNotFound) as e:
        raise PoisonMessage(f"not a webhook message ({type(e).__name__})") from None
    tries = _Tries()
    if "events" in message:
        jobs = deps.jobs.many([job_id for job_id, _ in events])
        work = [(endpoint, mark, jobs[job_id]) for job_id, mark in events if job_id in jobs
                for endpoint in deps.webhooks.listening(jobs[job_id].tenant, mark.event)]
        list((pool.map if pool is not None else map)(
            lambda w: _try(deps, tries, w[0], w[1], w[2].id, job_data(w[2]), 1), work))
        tries.flush(deps)
        deps.jobs.clear_marks([(job_id, mark) for job_id, mark in events if job_id in jobs])
        return
    try:
        endpoint = deps.webhooks.get(None, str(webhook_id))
    except NotFound:
        return  # the endpoint was deleted since
    if "test" in message:
        _try(deps, tries, endpoint, test, None, {"webhookId": endpoint.id, "test": True}, attempt)
    else:
        found = deps.jobs.many([job_id]).get(job_id)
        if found is None or found.tenant != endpoint.tenant or not endpoint.enabled:
            return  # the job is gone (deleted by retention), or the endpoint turned off
        _try(deps, tries, endpoint, mark, found.id, job_data(found), attempt)
    tries.flush(deps)


def _event_type(mark: Mark) -> str:
    return mark.event if mark.event == TEST_EVENT else f"notification.{mark.event}"


@dataclass
class _Tries:
    """What a message's tries leave to store and publish, all at once afterwards: the attempts'
    records, the retries by delay, the endpoints to disable."""

    records: list[tuple[Endpoint, dict[str, Any]]] = field(default_factory=list)
    retries: defaultdict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    disabled: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flush(self, deps: Deps) -> None:
        """Record the tries, queue the retries, disable what failed its last try."""
        deps.webhooks.record_many(self.records)
        for delay_ms, bodies in self.retries.items():
            deps.publisher.publish_webhooks(bodies, delay_ms=delay_ms)
        for webhook_id, reason in self.disabled.items():
            deps.webhooks.disable(webhook_id, reason)


def _try(deps: Deps, tries: _Tries, endpoint: Endpoint, mark: Mark, job_id: str | None,
         data: Mapping[str, Any], attempt: int) -> Attempt:
    """One try of one event at one endpoint, signed and sent; its record, and its retry or the
    endpoint's disabling after the last, left in `tries`."""
    delays = deps.settings.webhook_retry_delays_ms
    body = payload(_event_type(mark), mark.at_ms, data)
    keys = endpoint.secrets(clock.epoch_ms())
    headers = sign(keys[0], mark.id, clock.now(), body, keys[1] if len(keys) > 1 else None)
    result = post(endpoint.url, body, headers, allow_private=deps.settings.webhook_allow_private)
    record = {"eventId": mark.id, "type": _event_type(mark), "jobId": job_id, "attempt": attempt,
              "statusCode": result.status_code, "durationMs": result.duration_ms, "error": result.error}
    fields = {"webhook_id": endpoint.id, "event_id": mark.id, "job_id": job_id, "attempt": attempt,
              "status_code": result.status_code, "duration_ms": result.duration_ms}
    with tries.lock:
        tries.records.append((endpoint, record))
        if result.ok:
            if log.isEnabledFor(logging.DEBUG):  # a line per delivery would cost more than making it
                log.debug("webhook delivered", extra=fields)
        elif attempt <= len(delays):
            retry: dict[str, Any] = {"webhookId": endpoint.id, "attempt": attempt + 1}
            retry |= {"test": mark.id, "at": mark.at_ms} if job_id is None else {"jobId": job_id, "mark": mark.text}
            tries.retries[delays[attempt - 1]].append(retry)
            log.warning("webhook failed; retry queued", extra={**fields, "error": result.error,
                                                               "delay_ms": delays[attempt - 1]})
        else:
            tries.disabled[endpoint.id] = (f"disabled after {attempt} failed tries of event {mark.id} "
                                           f"(last: {result.error or f'HTTP {result.status_code}'})")
            log.warning("webhook endpoint disabled", extra={**fields, "error": result.error})
    return result
