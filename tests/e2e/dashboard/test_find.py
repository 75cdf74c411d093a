"""Finding any job from the dashboard: filters and search ask the API, "Load more" follows the
cursor, the counters filter, and the URL's fragment keeps it all."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from static_site.build import PAGE_SIZE
from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_of, settle, sms

pytestmark = pytest.mark.slow


@pytest.fixture
def buried(tenant: Tenant) -> dict[str, str]:
    """A failed email job with 120 sent SMS jobs after it, so no first page (nor the API's largest) holds it."""
    failed, = create(tenant, [{"type": "email", "recipient": "reject@example.com", "message": "Statement ready"}])
    create(tenant, sms(120))
    settle(tenant, failed=1, sent=120)
    return {"failed": failed}


def list_query(request: Request) -> dict[str, list[str]] | None:
    """The query of a request for the jobs list, or None for any other request."""
    url = urlsplit(request.url)
    return parse_qs(url.query) if request.method == "GET" and url.path.endswith("/api/notifications") else None


def test_the_status_filter_asks_the_api_and_finds_a_job_beyond_the_first_page(
        page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    expect(page.locator("#jobs-body tr")).to_have_count(PAGE_SIZE)
    expect(row_of(page, buried["failed"])).to_have_count(0)
    with page.expect_request(lambda r: (list_query(r) or {}).get("status") == ["failed"]):
        page.select_option("#filter-status", "failed")
    expect(row_of(page, buried["failed"])).to_be_visible()
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    assert "status=failed" in page.url


def test_the_type_filter_asks_the_api_too(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    with page.expect_request(lambda r: (list_query(r) or {}).get("type") == ["email"]):
        page.select_option("#filter-type", "email")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(row_of(page, buried["failed"])).to_be_visible()


def test_a_status_counter_is_a_button_that_filters_by_its_status(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    counter = page.locator("button[data-status='failed']")
    expect(counter).to_have_text(re.compile(r"failed\s*1"))
    expect(counter).to_have_class(re.compile(r"\balert\b"))  # failures stand out
    counter.click()
    expect(counter).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#filter-status")).to_have_value("failed")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(row_of(page, buried["failed"])).to_have_class(re.compile(r"\bfailed\b"))
    counter.click()  # again: the filter is lifted
    expect(page.locator("#filter-status")).to_have_value("")
    expect(page.locator("#jobs-body tr")).to_have_count(PAGE_SIZE)


def test_load_more_follows_the_link_cursor(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    expect(page.locator("#jobs-body tr")).to_have_count(PAGE_SIZE)
    with page.expect_request(lambda r: "cursor" in (list_query(r) or {})):
        page.click("#load-more")
    expect(page.locator("#jobs-body tr")).to_have_count(2 * PAGE_SIZE)
    page.click("#load-more")
    expect(page.locator("#jobs-body tr")).to_have_count(121)
    expect(row_of(page, buried["failed"])).to_be_visible()  # the oldest job
    expect(page.locator("#load-more")).to_be_hidden()
    ids = page.locator("#jobs-body tr").evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    assert len(set(ids)) == 121  # no page repeated a job


def test_search_by_a_full_job_id_shows_that_job(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    page.fill("#search", buried["failed"])
    with page.expect_request(lambda r: r.url.endswith(f"/api/notifications/{buried['failed']}")):
        page.press("#search", "Enter")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(row_of(page, buried["failed"])).to_be_visible()
    expect(page.locator("#jobs-shown")).to_contain_text("The job with this id")


def test_search_by_an_exact_recipient_asks_the_api(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    recipient = sms(120)[3]["recipient"]
    page.fill("#search", recipient)
    with page.expect_request(lambda r: (list_query(r) or {}).get("recipient") == [recipient]):
        page.press("#search", "Enter")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(page.locator("#jobs-body td.recipient")).to_have_text(recipient)
    page.fill("#search", "+23480" + "9" * 8)
    page.press("#search", "Enter")
    expect(page.locator("#jobs-empty")).to_have_text("No job matches these filters.")


def test_the_fragment_keeps_the_filters_for_a_shared_link_and_the_back_button(
        page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant)
    page.select_option("#filter-type", "email")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    page.select_option("#filter-status", "failed")
    assert urlsplit(page.url).fragment == "status=failed&type=email"
    assert urlsplit(page.url).query == ""  # never the query: a recipient would reach access logs
    page.go_back()
    expect(page.locator("#filter-status")).to_have_value("")
    expect(page.locator("#filter-type")).to_have_value("email")
    page.go_back()
    expect(page.locator("#filter-type")).to_have_value("")
    expect(page.locator("#jobs-body tr")).to_have_count(PAGE_SIZE)
    shared = page.context.new_page()  # a colleague opens the link (the key is in this browser)
    shared.goto(f"{tenant.stack.url}/#status=failed&q={buried['failed']}")
    expect(shared.locator("#filter-status")).to_have_value("failed")
    expect(shared.locator("#search")).to_have_value(buried["failed"])
    expect(shared.locator(f"#jobs-body tr[data-job-id='{buried['failed']}']")).to_be_visible()
    shared.close()


def test_a_linked_job_opens_in_the_drawer(page: Page, tenant: Tenant, buried: dict[str, str]) -> None:
    open_dashboard(page, tenant, f"#job={buried['failed']}")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail dd[data-field='id']")).to_have_text(buried["failed"])
    page.click("#detail-close")
    expect(page.locator("#detail")).to_be_hidden()
    assert "job=" not in page.url
