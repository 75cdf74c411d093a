"""Acting on a job from the dashboard, and reading its story: the drawer's Retry and Cancel, the
bulk retry, the masked message, and a timeline of labelled values in local time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_for
from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_of, seed, settle, sms

pytestmark = pytest.mark.slow


def drawer_button(page: Page, name: str):  # type: ignore[no-untyped-def]
    """One of the drawer's actions, by its exact accessible name."""
    return page.get_by_role("button", name=name, exact=True)


def events_of(tenant: Tenant, job_id: str) -> list[dict]:
    with tenant.client() as api:
        return list(api.get(f"/api/notifications/{job_id}/logs").json())


def test_retry_asks_first_then_shows_the_answer_and_records_the_key(page: Page, tenant: Tenant) -> None:
    job, = create(tenant, [{"type": "email", "recipient": "reject@example.com", "message": "Statement ready"}])
    settle(tenant, failed=1)
    open_dashboard(page, tenant)
    row_of(page, job).click()
    expect(drawer_button(page, "Cancel")).to_be_hidden()  # a failed job cannot be cancelled
    page.answer = False  # type: ignore[attr-defined]
    drawer_button(page, "Retry").click()
    assert page.dialogs[-1].startswith("Retry job …")  # type: ignore[attr-defined]
    assert "retry_requested" not in [e["event"] for e in events_of(tenant, job)]  # dismissed: nothing asked
    page.answer = True  # type: ignore[attr-defined]
    drawer_button(page, "Retry").click()
    expect(page.locator("#detail-result")).to_have_text(re.compile(r"^Retry accepted: the job is \w+, attempt budget 6\.$"))
    requested = [e for e in events_of(tenant, job) if e["event"] == "retry_requested"]
    assert [e["details"]["keyId"] for e in requested] == [tenant.key_id]
    entry = page.locator("#detail-timeline li[data-event='retry_requested']")
    expect(entry.locator(".details")).to_contain_text(f"By key{tenant.key_id}")  # the timeline updates by itself
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_have_count(2)  # rejected again


def test_cancel_stops_a_waiting_job_and_a_refusal_is_shown(page: Page, tenant: Tenant) -> None:
    job = seed(tenant, "queued", "dana@example.com", "email")
    open_dashboard(page, tenant)
    row_of(page, job).click()
    expect(drawer_button(page, "Retry")).to_be_hidden()
    page.answer = True  # type: ignore[attr-defined]
    drawer_button(page, "Cancel").click()
    assert "will not be sent" in page.dialogs[-1]  # type: ignore[attr-defined]
    expect(page.locator("#detail-result")).to_have_text("Cancelled: the job is cancelled and will not be sent.")
    expect(page.locator("#detail dd[data-field='status'] .badge")).to_have_text(re.compile("cancelled"))
    expect(drawer_button(page, "Cancel")).to_be_hidden()
    cancelled = [e for e in events_of(tenant, job) if e["event"] == "cancelled"]
    assert [e["details"] for e in cancelled] == [{"keyId": tenant.key_id}]
    expect(row_of(page, job).locator(".badge")).to_have_text(re.compile("cancelled"))


def test_an_action_the_api_refuses_shows_its_reason(page: Page, tenant: Tenant) -> None:
    job = seed(tenant, "queued", "erin@example.com", "email")
    open_dashboard(page, tenant)
    row_of(page, job).click()
    expect(drawer_button(page, "Cancel")).to_be_visible()
    tenant.jobs().update_one({"recipient": {"$eq": "erin@example.com"}}, {"$set": {"status": "sent"}})
    page.answer = True  # type: ignore[attr-defined]
    drawer_button(page, "Cancel").click()
    expect(page.locator("#detail-result")).to_have_text(
        "Not cancelled: The notification is sent and cannot be cancelled.")
    expect(page.locator("#detail-result")).to_have_attribute("data-outcome", "refused")


def test_retry_all_failed_acts_on_the_current_filter_with_a_count_in_its_confirmation(page: Page, tenant: Tenant) -> None:
    create(tenant, [*({"type": "email", "recipient": f"reject{n}@example.com", "message": "Hi"} for n in range(3)),
                    *sms(2, recipient="+2348010000000")])
    settle(tenant, failed=5)
    open_dashboard(page, tenant, "#type=email")
    expect(page.locator("#jobs-body tr")).to_have_count(3)
    page.answer = True  # type: ignore[attr-defined]
    page.click("#retry-all")
    expect(page.locator("#bulk-result")).to_have_text("Queued again: 3 of 3 failed jobs.")
    assert page.dialogs == ["Retry 3 failed email jobs?"]  # type: ignore[attr-defined]
    def listed(type_: str) -> list[dict]:
        with tenant.client() as api:
            return list(api.get("/api/notifications", params={"type": type_}).json())

    # The emails are tried again (and rejected again); the SMS jobs were never retried.
    wait_for(lambda: all(j["maxAttempts"] == 6 and j["status"] == "failed" for j in listed("email")),
             what="the retried emails to fail again")
    assert [(j["maxAttempts"], j["status"]) for j in listed("sms")] == [(3, "failed")] * 2


def test_retry_all_is_off_for_a_status_that_is_not_failed(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant, "#status=sent")
    expect(page.locator("#retry-all")).to_be_disabled()
    page.click("button[data-status='failed']")
    expect(page.locator("#retry-all")).to_be_enabled()
    page.click("#retry-all")  # nothing failed: said at once, no confirmation
    expect(page.locator("#bulk-result")).to_have_text("No failed job matches these filters.")


def test_the_message_is_masked_until_asked_for(page: Page, tenant: Tenant) -> None:
    job, = create(tenant, [{"type": "sms", "recipient": "+2348012345678", "message": "Your code is 481516"}])
    settle(tenant, sent=1)
    open_dashboard(page, tenant)
    row_of(page, job).click()
    message = page.locator("#detail dd[data-field='message']")
    expect(message).to_contain_text("hidden, 19 characters")
    expect(message).not_to_contain_text("481516")
    reveal = page.get_by_role("button", name="Reveal message")
    expect(reveal).to_have_attribute("aria-expanded", "false")
    reveal.click()
    expect(message.locator("pre")).to_have_text("Your code is 481516")
    page.get_by_role("button", name="Hide message").click()
    expect(message).not_to_contain_text("481516")


def test_the_timeline_reads_as_a_story(page: Page, tenant: Tenant) -> None:
    job, = create(tenant, [{"type": "email", "recipient": "reject@example.com", "message": "Statement ready"}])
    settle(tenant, failed=1)
    open_dashboard(page, tenant)
    row_of(page, job).click()
    failed = page.locator("#detail-timeline li[data-event='failed']")
    expect(failed.locator(".event")).to_have_text("Failed")
    expect(failed).to_have_class(re.compile(r"\bbad\b"))
    labels = failed.locator(".details dt").all_text_contents()
    values = failed.locator(".details dd").all_text_contents()
    assert dict(zip(labels, values, strict=True)) == {
        "Attempt": "1", "Provider": "mock", "Error": "mock email provider rejected the recipient", "Permanent": "yes"}
    assert "{" not in page.locator("#detail-timeline").inner_text()  # no JSON
    when = failed.locator("time")
    iso = when.get_attribute("datetime")
    assert iso and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso)
    expect(when).to_have_attribute("title", f"{iso} (UTC)")
    local = page.evaluate("""(iso) => new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit",
        second: "2-digit", fractionalSecondDigits: 3})""", iso)
    expect(when).to_have_text(re.compile("^" + re.escape(local) + r" · \d+ s ago$"))
    expect(failed.locator(".after")).to_have_text(re.compile(r"^\+\d+ ms$"))  # after the one before
    events = page.locator("#detail-timeline li").evaluate_all("items => items.map(i => i.dataset.event)")
    assert events[0] == "created" and events[-1] == "failed"
