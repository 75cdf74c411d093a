"""The throughput chart (two series, a scale that keeps history visible, ticks, a tooltip per bar)
and what an open page costs the API: one request a second at most, every part still live."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import wait_for
from tests.e2e.dashboard.conftest import Tenant
from tests.e2e.dashboard.pages import create, open_dashboard, row_of, settle

pytestmark = pytest.mark.slow
BUCKETS, BUCKET_S = 60, 5


def stats_after_a_burst() -> dict:
    """Five minutes at a steady 1/s, then a burst of 200 jobs in one bucket and one failure."""
    sent = [5] * 50 + [0] * 5 + [200] + [0] * 4
    failed = [0] * 56 + [1] + [0] * 3
    until = datetime.now(UTC).replace(microsecond=0)
    return {
        "counts": {"sent": sum(sent), "failed": 1}, "total": sum(sent) + 1, "generatedAt": until.isoformat(),
        "throughput": {
            "since": (until - timedelta(seconds=BUCKETS * BUCKET_S)).isoformat().replace("+00:00", "Z"),
            "until": until.isoformat().replace("+00:00", "Z"), "bucketSeconds": BUCKET_S,
            "sent": sent, "sentPerSecond": [n / BUCKET_S for n in sent],
            "failed": failed, "failedPerSecond": [n / BUCKET_S for n in failed],
        },
    }


def test_the_chart_keeps_earlier_bars_visible_after_a_burst(page: Page, tenant: Tenant) -> None:
    body = json.dumps(stats_after_a_burst())

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=body)

    page.route("**/api/stats*", answer)
    open_dashboard(page, tenant)
    expect(page.locator("#chart rect.bar-sent")).to_have_count(51)
    expect(page.locator("#chart rect.bar-failed")).to_have_count(1)
    heights = page.locator("#chart rect.bar-sent").evaluate_all("bars => bars.map(b => b.getBBox().height)")
    steady, burst = heights[0], max(heights)
    assert steady / burst > 0.15, heights  # 1/s beside 40/s: a linear scale would leave 2.5 %
    ticks = page.locator("#chart text.tick").all_text_contents()
    assert [t for t in ticks if re.fullmatch(r"\d+", t)] == ["0", "1", "10", "100"]
    assert "/s" in ticks and "now" in ticks
    expect(page.locator("#chart-scale")).to_contain_text("logarithmic")
    page.locator("#chart rect.hit[data-bucket='55']").hover()
    tip = page.locator("#chart-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("sent 40/s (200) · failed 0.0/s (0)")
    page.locator("#chart rect.hit[data-bucket='56']").hover()
    expect(tip).to_contain_text("failed 0.2/s (1)")
    titles = page.locator("#chart rect.hit title").all_text_contents()
    assert len(titles) == BUCKETS and all("sent" in t and "failed" in t for t in titles)


def request_starts(page: Page, since_ms: float) -> list[tuple[float, str]]:
    """When the page started each API request after `since_ms` (its own clock), and to where."""
    return [(t, url) for t, url in page.evaluate("""() => performance.getEntriesByType("resource")
        .filter(e => e.name.includes("/api/")).map(e => [e.startTime, e.name])""") if t > since_ms]


def test_an_open_page_asks_at_most_once_a_second_and_keeps_every_part_live(page: Page, tenant: Tenant) -> None:
    job, = create(tenant, [{"type": "email", "recipient": "reject@example.com", "message": "Statement ready"}])
    settle(tenant, failed=1)
    open_dashboard(page, tenant)
    row_of(page, job).click()
    expect(page.locator("#detail-timeline li[data-event='failed']")).to_be_visible()
    expect(page.locator("#connection-text")).to_have_text("Live · each part updates every 3 s")
    start = float(page.evaluate("performance.now()"))

    def kinds() -> set[str] | None:
        seen = {re.sub(r".*/api/", "", url).split("?")[0].replace(job, "{id}") for _, url in request_starts(page, start)}
        return seen if {"notifications", "stats", "notifications/{id}/logs"} <= seen else None

    wait_for(kinds, timeout=20, interval=0.5, what="the list, the totals and the timeline each to be polled")
    wait_for(lambda: len(request_starts(page, start)) >= 8, timeout=30, interval=0.5, what="eight polls")
    starts = sorted(t for t, _ in request_starts(page, start))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 990, gaps  # timers fire late, never early: this holds however busy the machine
