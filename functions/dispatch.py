"""The queue-triggered handler: one message `{jobId}` in, one delivery outcome out."""

from __future__ import annotations

import json

from shared.bootstrap import Deps
from shared.delivery import Outcome, deliver
from shared.errors import JobNotFound, PoisonMessage


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
