"""The dashboard in real headless Chromium against the real local stack (`wavecom up`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, expect, sync_playwright
from pymongo import MongoClient

from local.embedded_store import free_port
from static_site.build import build
from tests.conftest import delete_stack_queues, unique, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Long enough that a job with one forced failure is still `retrying` when the screenshot is taken.
RETRY_BASE_MS = 30000
TIMEOUT_MS = 25000  # below RETRY_BASE_MS, for a loaded machine
KEY = "wck_e2e-" + os.urandom(12).hex()


@dataclass(frozen=True)
class Stack:
    """A running `wavecom up` of this module's own: its URL, database and queue."""

    url: str
    store_uri: str
    db: str
    queue: str
    key: str

    def client(self) -> httpx.Client:
        """An API client holding the stack's key."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"})


@pytest.fixture(scope="module")
def stack(store_uri: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`wavecom up` on a free port, with its own database, queue and built site; stopped by PID."""
    work = tmp_path_factory.mktemp("stack")
    build(work / "site")
    port, queue, db = free_port(), unique("e2e-jobs"), unique("e2e").replace("-", "_")
    env = {
        **os.environ,
        "WAVECOM_HOST": "127.0.0.1",
        "WAVECOM_PORT": str(port),
        "WAVECOM_QUEUE": queue,
        "WAVECOM_DATA_DIR": str(work / "data"),
        "WAVECOM_SITE_DIR": str(work / "site"),
        "MONGODB_URI": store_uri,
        "MONGODB_DB": db,
        "RABBITMQ_URL": broker_url,
        "WAVECOM_MOCK_FAILURE_RATE": "0",
        "WAVECOM_RETRY_BASE_MS": str(RETRY_BASE_MS),
        "WAVECOM_BOOTSTRAP_KEY": KEY,
    }
    log = (work / "stack.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "local.cli", "up"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"wavecom up exited with {proc.returncode}; see {work / 'stack.log'}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, interval=0.2, what="the stack to answer /health")
        yield Stack(url, store_uri, db, queue, KEY)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        MongoClient(store_uri).drop_database(db)
        delete_stack_queues(broker_url, queue)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for this module."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (Playwright's own download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own storage) that fails the test on any dialog or script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    p.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    p.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    p.problems = problems  # type: ignore[attr-defined]
    yield p
    context.close()
    assert problems == []


def open_dashboard(page: Page, stack: Stack) -> None:
    """Load the dashboard, enter the stack's API key as a person would, wait for a good poll."""
    page.goto(stack.url + "/")
    page.fill("#api-key", stack.key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def send(page: Page, type_: str, recipient: str, message: str = "Your code is 123456") -> None:
    """Fill in and submit the send form."""
    page.select_option("#f-type", type_)
    page.fill("#f-recipient", recipient)
    page.fill("#f-message", message)
    page.click("#send")


def row_for(page: Page, recipient: str) -> Any:
    """The table row whose recipient cell is exactly `recipient`."""
    return page.locator("#jobs-body tr").filter(has=page.locator("td.recipient", has_text=re.compile("^" + re.escape(recipient) + "$")))


def test_a_job_sent_from_the_form_appears_at_the_top_and_reaches_sent(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
    recipient = f"{unique('ops')}@example.com"
    send(page, "email", recipient)
    expect(page.locator("#jobs-body tr").first.locator("td.recipient")).to_have_text(recipient)
    row = row_for(page, recipient)
    expect(row.locator(".badge")).to_have_text(re.compile("sent"))
    expect(row.locator("td.attempts")).to_have_text("1 / 3")
    full_id = row.locator("code").get_attribute("title")
    assert full_id and re.fullmatch(r"[0-9a-f]{24}", full_id)
    expect(row.locator("code")).to_have_text("…" + full_id[-8:])
    expect(row.locator("time")).to_have_text(re.compile(r"^\d+ s ago$"))


def test_invalid_input_shows_the_api_messages_next_to_the_fields(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
    answer = stack.client().post("/api/notifications", json={"type": "sms", "recipient": "12345", "message": " "})
    expected = {e["field"]: e["message"] for e in answer.json()["errors"]}
    send(page, "sms", "12345", " ")
    expect(page.locator("#error-recipient")).to_have_text(expected["recipient"])
    expect(page.locator("#error-message")).to_have_text(expected["message"])
    expect(page.locator("#f-recipient")).to_have_attribute("aria-invalid", "true")


def test_a_failing_job_shows_failed_and_its_last_error_in_the_panel(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
    recipient = f"reject-{unique('x')}@example.com"
    send(page, "email", recipient)
    row = row_for(page, recipient)
    expect(row.locator(".badge")).to_have_text(re.compile("failed"))
    page.select_option("#filter-status", "failed")
    expect(page.locator("#jobs-body tr:not([data-status='failed'])")).to_have_count(0)
    row.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail dd[data-field='lastError']")).to_contain_text("rejected the recipient")
    expect(page.locator("#detail dd[data-field='recipient']")).to_have_text(recipient)
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_contain_text("rejected the recipient")
    events = page.locator("#detail-timeline li .event").all_text_contents()
    assert events[0] == "created" and events[-1] == "failed"


def test_markup_in_a_recipient_is_shown_as_text_and_never_runs(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
    token = f"<img src=x onerror=alert(1)> {unique('t')}"
    send(page, "push", token, "<script>alert(2)</script>")
    row = row_for(page, token)
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text(re.compile("sent"))
    row.click()
    expect(page.locator("#detail dd[data-field='message']")).to_have_text("<script>alert(2)</script>")
    assert page.locator("main img, #detail img, #detail script").count() == 0
    assert page.problems == []  # type: ignore[attr-defined]


def is_poll(request: Request) -> bool:
    """Whether a request is the dashboard's poll of the jobs list."""
    return request.method == "GET" and request.url.endswith("/api/notifications")


def test_the_api_key_is_remembered_and_sent_as_a_bearer_token(page: Page, stack: Stack) -> None:
    page.goto(stack.url + "/")
    page.fill("#api-key", stack.key)
    with page.expect_request(is_poll) as saved:
        page.click("#key-form button[type=submit]")
    assert saved.value.all_headers().get("authorization") == f"Bearer {stack.key}"
    with page.expect_request(is_poll) as reloaded:
        page.reload()
    assert reloaded.value.all_headers().get("authorization") == f"Bearer {stack.key}"
    expect(page.locator("#api-key")).to_have_value(stack.key)
    expect(page.locator("#key-state")).to_have_text("key in use")
    page.click("#key-clear")
    with page.expect_request(is_poll) as cleared:
        page.reload()
    assert "authorization" not in cleared.value.all_headers()
    expect(page.locator("#key-state")).to_have_text("key required")  # the real API now says so


def test_a_401_shows_key_required_then_key_rejected(page: Page, stack: Stack) -> None:
    problem = '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"A valid API key is required."}'
    page.route("**/api/**", lambda route: route.fulfill(status=401, content_type="application/problem+json", body=problem))
    page.goto(stack.url + "/")
    expect(page.locator("#key-state")).to_have_text("key required")
    expect(page.locator("#connection-text")).to_contain_text("key required")
    page.fill("#api-key", "wrong-key")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-state")).to_have_text("key rejected")
    page.unroute("**/api/**")
    page.fill("#api-key", stack.key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_a_lost_connection_is_shown_with_its_retry_and_recovers(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
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


def test_polling_pauses_while_the_tab_is_hidden(page: Page, stack: Stack) -> None:
    page.clock.install()
    open_dashboard(page, stack)
    with page.expect_request(is_poll):
        page.clock.run_for(2500)
    _set_hidden(page, True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "paused")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if is_poll(r) else None)
    page.clock.run_for(20000)
    page.evaluate("1")  # let the driver deliver any request event before counting
    assert polls == []
    with page.expect_request(is_poll):
        _set_hidden(page, False)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def _seed(stack: Stack, status: str, recipient: str, type_: str, **extra: Any) -> None:
    """Store a job in a status the live stack would pass through too fast to photograph."""
    t = datetime.now(UTC) - timedelta(seconds=40)
    MongoClient(stack.store_uri)[stack.db]["notificationjobs"].insert_one({
        "tenant": "default", "createdAtMs": int(t.timestamp() * 1000), "type": type_, "recipient": recipient, "message": "Seeded for the screenshot", "metadata": {},
        "status": status, "attempts": 1 if status == "sending" else 0, "maxAttempts": 3, "lastError": None,
        "createdAt": t, "updatedAt": t, "__v": 0, **extra,
    })


def test_a_screenshot_shows_jobs_in_several_states(page: Page, stack: Stack, artifacts_dir: Path) -> None:
    # `pending` and `sending` are seeded so the outbox sweeper leaves them alone for a while
    # (recently touched, lease far ahead); they are pictured when present, not required.
    later = datetime.now(UTC) + timedelta(hours=1)
    _seed(stack, "pending", "+2348012345601", "sms", updatedAt=later)
    _seed(stack, "sending", "device-token-7f3a", "push", leaseOwner="screenshot",
          leaseUntilMs=int(later.timestamp() * 1000))
    _seed(stack, "queued", "dana@example.com", "email")
    _seed(stack, "cancelled", "+2348012345602", "sms")
    api = stack.client()
    api.post("/api/notifications", json={"type": "email", "recipient": "reject@example.com", "message": "Statement ready"})
    api.post("/api/notifications", json={"type": "sms", "recipient": "+2348012345678", "message": "OTP 481516",
                                         "metadata": {"mockFailures": 1}})
    for n in range(6):
        api.post("/api/notifications", json={"type": "email", "recipient": f"customer{n}@example.com", "message": "Hello"})
    open_dashboard(page, stack)
    for status in ("queued", "sent", "retrying", "failed", "cancelled"):
        expect(page.locator(f"#jobs-body tr[data-status='{status}']").first).to_be_visible()
    page.locator("#chart rect.bar").first.wait_for(timeout=TIMEOUT_MS)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    total = int(api.get("/api/stats").json()["total"])
    expect(page.locator("[data-count='total']")).to_have_text(f"{total:,}")
    path = artifacts_dir / "dashboard.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    row_for(page, "reject@example.com").first.click()
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "dashboard-detail.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#detail-close")
    page.screenshot(path=str(artifacts_dir / "dashboard-narrow.png"), full_page=True)
