"""The dashboard in real headless Chromium against the real local stack (`wavecom up`): one stack
for every dashboard test, and a tenant of its own for each test, so counters and lists start empty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, Playwright, expect, sync_playwright
from pymongo import MongoClient

from local.embedded_store import free_port
from shared.tenants import KEYS, KeyStore
from static_site.build import build
from tests.conftest import delete_stack_queues, unique, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Long enough that a job with one forced failure is still `retrying` when a test looks at it.
RETRY_BASE_MS = 30000
TIMEOUT_MS = 25000  # below RETRY_BASE_MS, for a loaded machine
BOOTSTRAP_KEY = "wck_e2e-" + os.urandom(12).hex()
expect.set_options(timeout=TIMEOUT_MS)  # every wait ends as soon as its condition holds


@dataclass(frozen=True)
class Stack:
    """A running `wavecom up` of the dashboard tests' own: its URL, store, database and queue."""

    url: str
    store_uri: str
    db: str
    queue: str


@dataclass(frozen=True)
class Tenant:
    """A tenant of one test: its name, API key and the key's public id."""

    stack: Stack
    name: str
    key: str
    key_id: str

    def client(self) -> httpx.Client:
        """An API client holding the tenant's key."""
        return httpx.Client(base_url=self.stack.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)

    def jobs(self):  # type: ignore[no-untyped-def]
        """The stack's jobs collection (to seed states a live stack passes through too fast)."""
        return MongoClient(self.stack.store_uri)[self.stack.db]["notificationjobs"]


@pytest.fixture(scope="session")
def stack(store_uri: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`wavecom up` on a free port, with its own database, queue and built site; stopped by PID."""
    work = tmp_path_factory.mktemp("stack")
    build(work / "site")
    port, queue, db = free_port(), unique("e2e-jobs"), unique("e2e").replace("-", "_")
    env = {
        **os.environ,
        "WAVECOM_HOST": "127.0.0.1",
        "WAVECOM_PORT": str(port),
        "WAVECOM_METRICS_PORT": "0",
        "WAVECOM_QUEUE": queue,
        "WAVECOM_DATA_DIR": str(work / "data"),
        "WAVECOM_SITE_DIR": str(work / "site"),
        "MONGODB_URI": store_uri,
        "MONGODB_DB": db,
        "RABBITMQ_URL": broker_url,
        "WAVECOM_MOCK_FAILURE_RATE": "0",
        "WAVECOM_RETRY_BASE_MS": str(RETRY_BASE_MS),
        "WAVECOM_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
        "WAVECOM_WEBHOOK_ALLOW_PRIVATE": "1",  # the webhook tests' receivers listen on loopback
        "WAVECOM_LIFECYCLE_INTERVAL_MS": "500",  # a job asking for redaction at once is redacted quickly
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
        yield Stack(url, store_uri, db, queue)
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


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    """A fresh tenant with a key of its own, made in the stack's store as `wavecom keys create` does."""
    client: MongoClient = MongoClient(stack.store_uri, tz_aware=True)
    try:
        issued = KeyStore(client[stack.db][KEYS]).create(unique("t").lower())
    finally:
        client.close()
    return Tenant(stack, issued.tenant, issued.key, issued.key_id)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for the session."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (Playwright's own download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


def watched(page: Page) -> Page:
    """Make `page` fail its test on any script error or unexpected dialog. A test that expects a
    confirmation sets `page.answer` (True: accept, False: dismiss); each message lands in
    `page.dialogs`."""
    problems: list[str] = []
    page.dialogs = []  # type: ignore[attr-defined]
    page.answer = None  # type: ignore[attr-defined]

    def on_dialog(dialog: Dialog) -> None:
        page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        if page.answer is None:  # type: ignore[attr-defined]
            problems.append(f"unexpected dialog: {dialog.message}")
        if page.answer:  # type: ignore[attr-defined]
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.problems = problems  # type: ignore[attr-defined]
    page.set_default_timeout(TIMEOUT_MS)
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own storage) that fails the test on any dialog it did not expect or any
    script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = watched(context.new_page())
    yield p
    context.close()
    assert p.problems == []  # type: ignore[attr-defined]
