"""Accessibility: axe-core, injected into the real page, finds no serious or critical violation in
the default view, with the drawer open, or on a narrow screen; and a person with only a keyboard
can send a notification, search, open a job and act on it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.dashboard.conftest import Tenant, watched
from tests.e2e.dashboard.pages import create, open_dashboard, row_for, seed, settle

pytestmark = pytest.mark.slow
AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page axe can be injected into: the page's Content-Security-Policy allows only its own
    scripts, so this context bypasses it (the page's own behaviour is the same)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `npm ci` installs it (make test runs it)")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    p = watched(context.new_page())
    yield p
    context.close()
    assert p.problems == []  # type: ignore[attr-defined]


def serious_violations(page: Page) -> list[str]:
    """What axe-core finds of impact serious or critical, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps([n['target'] for n in v['nodes']][:3])}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_violation_in_the_default_view_the_drawer_or_a_narrow_screen(
        axe_page: Page, tenant: Tenant) -> None:
    page = axe_page
    seed(tenant, "queued", "dana@example.com", "email")
    create(tenant, [{"type": "email", "recipient": "reject@example.com", "message": "Statement ready"},
                    {"type": "sms", "recipient": "+2348012345678", "message": "OTP 481516", "metadata": {"mockFailures": 1}},
                    {"type": "push", "recipient": "device-token-7f3a", "message": "Parcel out for delivery"}])
    settle(tenant, failed=1, retrying=1, sent=1)
    open_dashboard(page, tenant)
    page.locator("#chart rect.bar-sent").first.wait_for()
    assert serious_violations(page) == [], "default view"
    row_for(page, "reject@example.com").click()
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_be_visible()
    assert serious_violations(page) == [], "drawer open"
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#detail-close")
    assert serious_violations(page) == [], "narrow"


def tab_to(page: Page, selector: str, limit: int = 400) -> None:
    """Press Tab until `selector` has the focus (as a keyboard user would), at most `limit` times."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("node => node === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_alone_can_send_search_open_a_job_and_retry_it(page: Page, tenant: Tenant) -> None:
    page.goto(tenant.stack.url + "/")
    expect(page.locator("#api-key")).to_be_focused()  # the call to action puts the cursor there
    page.keyboard.type(tenant.key)
    page.keyboard.press("Enter")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    tab_to(page, "#f-type")  # email is the first choice
    tab_to(page, "#f-recipient")
    page.keyboard.type("reject-keyboard@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("Statement ready")
    tab_to(page, "#send")
    page.keyboard.press("Enter")
    expect(page.locator("#send-result .badge")).to_have_text(re.compile("failed"))

    tab_to(page, "#search")
    page.keyboard.type("reject-keyboard@example.com")
    page.keyboard.press("Enter")
    expect(page.locator("#jobs-body tr")).to_have_count(1)

    tab_to(page, "#jobs-body tr button.open")
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-close")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_focused()
    page.answer = True  # type: ignore[attr-defined]
    page.keyboard.press("Enter")
    expect(page.locator("#detail-result")).to_contain_text("Retry accepted")
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator("#jobs-body tr button.open")).to_be_focused()  # back where the person was
