"""The delivery policy on the dashboard: scheduled and expired jobs have their badges, the drawer
shows a job's priority and times, and a scheduled job can be cancelled until it is due."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_of, settle

pytestmark = pytest.mark.slow


def test_a_scheduled_job_shows_its_priority_and_times_and_can_be_cancelled(page: Page, tenant: Tenant) -> None:
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    job, = create(tenant, [{"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456",
                            "priority": "high", "sendAt": send_at, "ttlSeconds": 600}])
    open_dashboard(page, tenant)
    expect(row_of(page, job).locator(".badge")).to_have_text(re.compile("scheduled"))
    expect(page.locator("button[data-status='scheduled'] [data-count]")).to_have_text("1")
    row_of(page, job).click()
    fields = page.locator("#detail-fields")
    expect(fields.locator("dd[data-field='priority']")).to_have_text("high")
    expect(fields.locator("dd[data-field='sendAt'] time")).to_have_attribute("datetime", send_at)
    expect(fields.locator("dd[data-field='expiresAt'] time")).to_have_attribute("title", re.compile(r"Z \(UTC\)$"))
    expect(fields.locator("dd[data-field='ttlSeconds']")).to_have_text("10 min")
    scheduled = page.locator("#detail-timeline li[data-event='scheduled']")
    expect(scheduled.locator(".event")).to_have_text("Scheduled")
    expect(scheduled.locator(".details dt")).to_contain_text(["Send at"])
    page.answer = True  # type: ignore[attr-defined]
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator("#detail-result")).to_have_text("Cancelled: the job is cancelled and will not be sent.")


def test_a_code_whose_retry_would_come_too_late_shows_expired_with_its_reason(page: Page, tenant: Tenant) -> None:
    # The stack retries after 30 s; the job may wait 5: after its first, failed attempt it expires.
    job, = create(tenant, [{"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456",
                            "ttlSeconds": 5, "metadata": {"mockFailures": 1}}])
    settle(tenant, expired=1)
    open_dashboard(page, tenant)
    expect(row_of(page, job).locator(".badge")).to_have_text(re.compile("expired"))
    row_of(page, job).click()
    expired = page.locator("#detail-timeline li[data-event='expired']")
    expect(expired.locator(".event")).to_have_text("Expired, never sent")
    expect(expired).to_have_class(re.compile(r"\bbad\b"))
    labels = expired.locator(".details dt").all_text_contents()
    assert {"Provider", "Expires at"} <= set(labels), labels
    sending = page.locator("#detail-timeline li[data-event='sending'] .details")
    expect(sending).to_contain_text("Providermock")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_hidden()
