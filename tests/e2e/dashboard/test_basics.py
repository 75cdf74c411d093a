"""The dashboard's basics in Chromium: sending, field errors, the key, the connection, polling."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.conftest import unique
from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_for, seed, send, settle

pytestmark = pytest.mark.slow


def is_poll(request: Request) -> bool:
    """Whether a request is the dashboard's read of the jobs list."""
    return request.method == "GET" and "/api/notifications?" in request.url


def test_a_job_sent_from_the_form_appears_at_the_top_and_reaches_sent(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant)
    recipient = f"{unique('ops')}@example.com"
    send(page, "email", recipient)
    expect(page.locator("#jobs-body tr").first.locator("td.recipient")).to_have_text(recipient)
    row = row_for(page, recipient)
    expect(row.locator(".badge")).to_have_text(re.compile("sent"))
    expect(row.locator("td.attempts")).to_have_text("1 / 3")
    full_id = row.get_attribute("data-job-id")
    assert full_id and re.fullmatch(r"[0-9a-f]{24}", full_id)
    expect(row.locator("button.open")).to_have_accessible_name("Open job …" + full_id[-8:])
    expect(row.locator("time")).to_have_text(re.compile(r"^\d+ s ago$"))


def test_the_accepted_note_follows_the_job_until_it_is_sent(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant)
    send(page, "sms", "+2348012345678")
    note = page.locator("#send-result")
    expect(note).to_contain_text(re.compile(r"Accepted as (Open job )?…[0-9a-f]{8}"))
    expect(note.locator(".badge")).to_have_text(re.compile("sent"))  # it said queued first


def test_the_accepted_note_follows_a_job_the_table_does_not_show(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant, "#status=failed")
    send(page, "email", f"{unique('ops')}@example.com")
    expect(page.locator("#send-result .badge")).to_have_text(re.compile("sent"))
    expect(page.locator("#jobs-body tr")).to_have_count(0)  # a sent job is no failed one


def test_invalid_input_shows_the_api_messages_next_to_the_fields(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant)
    with tenant.client() as api:
        answer = api.post("/api/notifications", json={"type": "sms", "recipient": "12345", "message": " "})
    expected = {e["field"]: e["message"] for e in answer.json()["errors"]}
    send(page, "sms", "12345", " ")
    expect(page.locator("#error-recipient")).to_have_text(expected["recipient"])
    expect(page.locator("#error-message")).to_have_text(expected["message"])
    expect(page.locator("#f-recipient")).to_have_attribute("aria-invalid", "true")


def test_markup_in_a_recipient_is_shown_as_text_and_never_runs(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant)
    token = f"<img src=x onerror=alert(1)> {unique('t')}"
    send(page, "push", token, "<script>alert(2)</script>")
    row = row_for(page, token)
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text(re.compile("sent"))
    row.click()
    page.get_by_role("button", name="Reveal message").click()
    expect(page.locator("#detail dd[data-field='message'] pre")).to_have_text("<script>alert(2)</script>")
    assert page.locator("main img, #detail img, #detail script").count() == 0
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_api_key_is_remembered_and_sent_as_a_bearer_token(page: Page, tenant: Tenant) -> None:
    page.goto(tenant.stack.url + "/")
    page.fill("#api-key", tenant.key)
    with page.expect_request(is_poll) as saved:
        page.click("#key-form button[type=submit]")
    assert saved.value.all_headers().get("authorization") == f"Bearer {tenant.key}"
    with page.expect_request(is_poll) as reloaded:
        page.reload()
    assert reloaded.value.all_headers().get("authorization") == f"Bearer {tenant.key}"
    expect(page.locator("#api-key")).to_have_value(tenant.key)
    expect(page.locator("#key-state")).to_have_text("key in use")


def test_with_no_key_the_page_asks_for_one_and_polls_nothing(page: Page, tenant: Tenant) -> None:
    page.clock.install()
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
    page.goto(tenant.stack.url + "/")
    expect(page.locator("#key-cta")).to_be_visible()
    expect(page.locator("#key-cta")).to_contain_text("Enter an API key")
    expect(page.locator("#key-state")).to_have_text("key required")
    expect(page.locator("#api-key")).to_be_focused()
    page.clock.run_for(30_000)
    page.evaluate("1")  # let the driver deliver any request event before counting
    assert api_calls == []
    expect(page.locator("#connection-text")).to_have_text("API key needed")  # no countdown
    page.fill("#api-key", tenant.key)
    with page.expect_request(is_poll):
        page.click("#key-form button[type=submit]")
    expect(page.locator("#key-cta")).to_be_hidden()


def test_a_rejected_key_clears_the_previous_tenants_data(page: Page, tenant: Tenant) -> None:
    create(tenant, [{"type": "email", "recipient": "ada@example.com", "message": "Statement ready"}])
    settle(tenant, sent=1)
    open_dashboard(page, tenant)
    expect(row_for(page, "ada@example.com")).to_have_count(1)
    expect(page.locator("[data-count='sent']")).to_have_text("1")
    page.fill("#api-key", "wck_not-a-key-of-anyone")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-state")).to_have_text("key rejected")
    expect(page.locator("#jobs-body tr")).to_have_count(0)
    expect(page.locator("[data-count='sent']")).to_have_text("–")
    expect(page.locator("#chart rect")).to_have_count(0)
    expect(page.locator("#key-cta")).to_contain_text("rejected")
    expect(page.locator("#connection-text")).not_to_contain_text("retrying")
    page.fill("#api-key", tenant.key)
    page.click("#key-form button[type=submit]")
    expect(row_for(page, "ada@example.com")).to_have_count(1)


def test_a_lost_connection_is_shown_with_its_retry_and_recovers(page: Page, tenant: Tenant) -> None:
    open_dashboard(page, tenant)
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    expect(page.locator("#connection-text")).to_contain_text(re.compile(r"Connection lost · retrying in \d+ s"))
    page.unroute("**/api/**")
    page.click("#retry-now")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def _set_hidden(page: Page, hidden: bool) -> None:
    page.evaluate("""(hidden) => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
        document.dispatchEvent(new Event('visibilitychange'));
    }""", hidden)


def test_polling_pauses_while_the_tab_is_hidden(page: Page, tenant: Tenant) -> None:
    page.clock.install()
    open_dashboard(page, tenant)
    with page.expect_request(is_poll):
        page.clock.run_for(2500)
    _set_hidden(page, True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "paused")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/" in r.url else None)
    page.clock.run_for(20000)
    page.evaluate("1")
    assert polls == []
    with page.expect_request(is_poll):
        _set_hidden(page, False)
        page.clock.run_for(3000)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_screenshots_show_jobs_in_several_states(page: Page, tenant: Tenant, artifacts_dir: Path) -> None:
    # `pending` and `sending` are seeded so the outbox sweeper leaves them alone for a while
    # (recently touched, lease far ahead); they are pictured when present, not required.
    later = datetime.now(UTC) + timedelta(hours=1)
    seed(tenant, "pending", "+2348012345601", "sms", updatedAt=later)
    seed(tenant, "sending", "device-token-7f3a", "push", leaseOwner="screenshot",
         leaseUntilMs=int(later.timestamp() * 1000))
    seed(tenant, "queued", "dana@example.com", "email")
    seed(tenant, "cancelled", "+2348012345602", "sms")
    create(tenant, [
        {"type": "email", "recipient": "reject@example.com", "message": "Statement ready"},
        {"type": "sms", "recipient": "+2348012345678", "message": "OTP 481516", "metadata": {"mockFailures": 1}},
        *({"type": "email", "recipient": f"customer{n}@example.com", "message": "Hello"} for n in range(6)),
    ])
    settle(tenant, sent=6, failed=1, retrying=1)
    open_dashboard(page, tenant)
    for status in ("queued", "sent", "retrying", "failed", "cancelled"):
        expect(page.locator(f"#jobs-body tr[data-job-status='{status}']").first).to_be_visible()
    page.locator("#chart rect.bar-sent").first.wait_for()
    expect(page.locator("[data-count='sent']")).to_have_text("6")
    path = artifacts_dir / "dashboard.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    row_for(page, "reject@example.com").click()
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_be_visible()
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "dashboard-detail.png"))
    page.fill("#search", "+2348012345678")
    page.press("#search", "Enter")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()
    page.screenshot(path=str(artifacts_dir / "dashboard-search.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "dashboard-narrow.png"), full_page=True)
