"""The queue-triggered handler: one message `{jobId}` in, one delivery outcome out."""

from __future__ import annotations

import json
import logging

from shared.bootstrap import Deps
from shared.delivery import Outcome, deliver
from shared.errors import JobNotFound, PoisonMessage

log = logging.getLogger("wavecom.dispatch")


def job_id_of(body: bytes) -> str:
    """The job id a queue message carries, or PoisonMessage."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PoisonMessage("message body is not JSON") from None
    job_id = payload.get("jobId") if isinstance(payload, dict) else None
    if not isinstance(job_id, str):
        raise PoisonMessage("message has no jobId")
    return job_id


def handle(body: bytes, deps: Deps) -> Outcome:
    """Deliver the job the message names; PoisonMessage when no delivery can ever happen."""
    job_id = job_id_of(body)
    try:
        return deliver(deps, job_id)
    except JobNotFound:
        raise PoisonMessage("no job has this id") from None


def handle_batch(bodies: list[bytes], deps: Deps) -> list[str]:
    """Deliver a batch (a Lambda event); poison goes to the dead-letter queue, the rest raise.

    A store or broker failure propagates so the event source redelivers the whole batch; jobs
    already finished are skipped on the second pass by the claim.
    """
    outcomes: list[str] = []
    for body in bodies:
        try:
            outcomes.append(handle(body, deps).value)
        except PoisonMessage as e:
            deps.publisher.dead_letter(body, str(e))
            log.warning("poison message dead-lettered", extra={"reason": str(e)})
            outcomes.append("dead_lettered")
    return outcomes
