"""Delivery receipts: what became of a sent email (delivered, bounced, complained), as SES
reports it through SNS, added to its job's timeline; a hard bounce or a complaint suppresses
the recipient for the tenant.

`apply_ses` is the one function both paths call: the `POST /api/receipts/sns` route once the
SNS signature and topic are verified (shared.snsreceipts), and the mock email provider in
process, so the whole path works locally without a signature to fake. A receipt names its
message by the provider's message id stored on the job at send. SNS delivers at least once: a
receipt already on the timeline is not added again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import timeline
from shared.bootstrap import Deps
from shared.masking import mask_recipient
from shared.snsreceipts import ses_event
from shared.states import Event

log = logging.getLogger("wavecom.receipts")
SUPPRESSING = {Event.BOUNCED: "bounce", Event.COMPLAINED: "complaint"}


@dataclass(frozen=True)
class Applied:
    """What a receipt did: the job it matched (None: no job has that message id), its event,
    whether it was new, and whether it suppressed the recipient."""

    job_id: str | None
    event: str
    added: bool = False
    suppressed: bool = False


def apply_ses(deps: Deps, message: str) -> Applied:
    """Add an SES event (the JSON text of an SNS notification's Message) to its job."""
    ses = ses_event(message)
    event = Event(ses.kind)
    found = deps.jobs.by_provider_message_id(ses.message_id)
    if found is None:
        log.info("receipt for no known message", extra={"event": event.value})
        return Applied(None, event.value)
    job_id, tenant, recipient, events = found
    receipt_id = f"{ses.message_id}:{event.value}:{ses.at}"
    if any(e.get("details", {}).get("receiptId") == receipt_id for e in events):
        return Applied(job_id, event.value)
    details = {"receiptId": receipt_id, "detail": ses.detail, "permanent": ses.permanent, "at": ses.at}
    added = deps.jobs.note(job_id, timeline.entry(event, details), mark=deps.jobs.mark_for(tenant, event.value))
    suppressed = False
    reason = SUPPRESSING.get(event)
    if reason and ses.permanent:
        suppressed = deps.suppressions.add(tenant, recipient, reason, job_id)
    log.info("receipt", extra={"job_id": job_id, "event": event.value, "recipient": mask_recipient(recipient),
                               "suppressed": suppressed})
    return Applied(job_id, event.value, added, suppressed)
