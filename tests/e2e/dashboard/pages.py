"""What a person does on the dashboard, as steps the tests share."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.conftest import wait_for
from tests.e2e.dashboard.conftest import Tenant


def open_dashboard(page: Page, tenant: Tenant, fragment: str = "") -> None:
    """Load the dashboard, enter the tenant's API key as a person would, wait for a good poll."""
    page.goto(tenant.stack.url + "/" + fragment)
    page.fill("#api-key", tenant.key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def send(page: Page, type_: str, recipient: str, message: str = "Your code is 123456") -> None:
    """Fill in and submit the send form."""
    page.select_option("#f-type", type_)
    page.fill("#f-recipient", recipient)
    page.fill("#f-message", message)
    page.click("#send")


def row_for(page: Page, recipient: str) -> Locator:
    """The table rows whose recipient cell is exactly `recipient`."""
    return page.locator("#jobs-body tr").filter(
        has=page.locator("td.recipient", has_text=re.compile("^" + re.escape(recipient) + "$")))


def row_of(page: Page, job_id: str) -> Locator:
    """The table row of one job."""
    return page.locator(f"#jobs-body tr[data-job-id='{job_id}']")


def counts(tenant: Tenant) -> dict[str, int]:
    """The tenant's counters, as the API reports them."""
    with tenant.client() as api:
        return dict(api.get("/api/stats").json()["counts"])


def settle(tenant: Tenant, **expected: int) -> None:
    """Wait until the tenant's counters show `expected` (jobs delivered, counters written)."""
    wait_for(lambda: all(counts(tenant).get(k) == v for k, v in expected.items()), timeout=60,
             interval=0.3, what=f"the counters to show {expected}")


def create(tenant: Tenant, items: list[dict[str, Any]]) -> list[str]:
    """Create jobs through the batch API; their ids, in order."""
    with tenant.client() as api:
        ids: list[str] = []
        for start in range(0, len(items), 1000):
            r = api.post("/api/notifications/batch", json=items[start:start + 1000])
            assert r.status_code == 201, r.text
            ids += [item["id"] for item in r.json()["items"]]
        return ids


def sms(n: int, **extra: Any) -> list[dict[str, Any]]:
    """`n` SMS jobs to distinct numbers (none ending in 0000, which the mock provider rejects)."""
    return [{"type": "sms", "recipient": f"+23480{n_:08d}", "message": "Your code is 123456", **extra}
            for n_ in range(12_345_000, 12_345_000 + n)]


def seed(tenant: Tenant, status: str, recipient: str, type_: str, **extra: Any) -> str:
    """Store a job in a status the live stack would pass through too fast to act on; its id."""
    t = datetime.now(UTC) - timedelta(seconds=40)
    doc = {
        "tenant": tenant.name, "createdAtMs": int(t.timestamp() * 1000), "type": type_, "recipient": recipient,
        "message": "Seeded by the test", "metadata": {}, "status": status,
        "attempts": 1 if status == "sending" else 0, "maxAttempts": 3, "attemptBudget": 3, "lastError": None,
        "createdAt": t, "updatedAt": t,
        "events": [{"event": "created", "at": t, "details": {"type": type_}}], **extra,
    }
    return str(tenant.jobs().insert_one(doc).inserted_id)
