"""Receipts and webhooks in the job drawer: a bounce reads as bad news in the timeline, the
next job to that recipient shows why it was not sent, and the webhook tries are listed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import register_webhook, wait_for
from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_of, settle
from tests.receiver import receiver

pytestmark = pytest.mark.slow


def test_a_bounce_its_webhook_and_the_suppressed_next_job_read_in_the_drawer(page: Page, tenant: Tenant) -> None:
    with receiver(statuses=[500]) as hook, tenant.client() as api:
        endpoint = register_webhook(api, hook.url, ["sent", "bounced"])
        bounced, = create(tenant, [{"type": "email", "recipient": "ada@bounce.example.com", "message": "Code 1"}])
        wait_for(lambda: "bounced" in [e["event"] for e in api.get(f"/api/notifications/{bounced}/logs").json()],
                 what="the bounce")
        blocked, = create(tenant, [{"type": "email", "recipient": "ada@bounce.example.com", "message": "Code 2"}])
        settle(tenant, sent=1, failed=1)
        open_dashboard(page, tenant)
        row_of(page, bounced).click()
        receipt = page.locator("#detail-timeline li[data-event='bounced']")
        expect(receipt.locator(".event")).to_have_text("Bounced (receipt)")
        expect(receipt).to_have_class(re.compile(r"\bbad\b"))
        expect(receipt.locator(".details")).to_contain_text("Permanent/General")
        tries = page.locator("#detail-webhooks li")
        expect(tries.filter(has_text="notification.bounced")).to_have_count(1)
        failed_try = tries.filter(has_text="HTTP 500")  # the receiver's first answer, retried after 5 s
        expect(failed_try).to_have_class(re.compile(r"\bbad\b"))
        expect(failed_try.locator(".details")).to_contain_text(endpoint["id"])
        page.locator("#detail-close").click()
        row_of(page, blocked).click()
        expect(page.locator("#detail-timeline li[data-event='suppressed'] .event")).to_have_text(
            "Not sent: recipient suppressed")
        expect(page.locator("#detail-fields dd[data-field='lastError']")).to_have_text(re.compile("^suppressed"))
        expect(page.locator("#detail-webhooks li")).to_have_text(["No webhook deliveries for this job."])


def test_a_redacted_failed_job_reads_as_erased_and_offers_no_retry(page: Page, tenant: Tenant) -> None:
    # The mock provider rejects numbers ending in 0000: the job fails at once, then is redacted.
    job, = create(tenant, [{"type": "sms", "recipient": "+2348010000000", "message": "Your code is 123456",
                            "redactAfterSeconds": 0}])
    with tenant.client() as api:
        wait_for(lambda: api.get(f"/api/notifications/{job}").json().get("redacted"), timeout=60,
                 what="the job to be redacted")
    open_dashboard(page, tenant)
    row_of(page, job).click()
    expect(page.locator("#detail-fields dd[data-field='message']")).to_have_text("Erased: this job is redacted")
    expect(page.locator("#detail-fields dd[data-field='recipient']")).to_have_text("+234*******000")
    expect(page.locator("#detail-fields dd[data-field='status']")).to_contain_text("failed")
    expect(page.locator("#detail-timeline li[data-event='redacted'] .event")).to_have_text(
        "Redacted: message and recipient erased")
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_hidden()
