"""Filters, limits and cursor pages of GET /api/notifications."""

import json
import re
import threading
from urllib.parse import parse_qs, urlparse

SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


def next_link(response):
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def test_filters_by_status_type_and_recipient(api, deps):
    api.post("/api/notifications", json=SMS)
    api.post("/api/notifications", json={**SMS, "recipient": "+2348099999999"})
    email = api.post("/api/notifications", json={"type": "email", "recipient": "a@example.com", "message": "x"}).json()
    api.post(f"/api/notifications/{email['id']}/cancel")
    assert [j["id"] for j in api.get("/api/notifications", params={"type": "email"}).json()] == [email["id"]]
    assert [j["id"] for j in api.get("/api/notifications", params={"status": "cancelled"}).json()] == [email["id"]]
    by_number = api.get("/api/notifications", params={"recipient": "+2348099999999"}).json()
    assert len(by_number) == 1 and by_number[0]["recipient"] == "+2348099999999"


def test_since_keeps_only_jobs_created_from_then_on(api):
    first = api.post("/api/notifications", json=SMS).json()
    listed = api.get("/api/notifications", params={"since": first["createdAt"]}).json()
    assert first["id"] in {j["id"] for j in listed}
    assert all(j["createdAt"] >= first["createdAt"] for j in listed)
    assert api.get("/api/notifications", params={"since": "2999-01-01T00:00:00Z"}).json() == []


def test_pages_follow_the_link_header_without_repeats_or_gaps_while_jobs_are_added(api):
    existing = [api.post("/api/notifications", json=SMS).json()["id"] for _ in range(25)]
    stop = threading.Event()

    def keep_inserting():
        while not stop.is_set():
            api.post("/api/notifications", json=SMS)

    inserter = threading.Thread(target=keep_inserting)
    inserter.start()
    try:
        seen, url, pages = [], "/api/notifications?limit=7", 0
        while url:
            response = api.get(url)
            assert response.status_code == 200
            seen += [j["id"] for j in response.json()]
            url, pages = next_link(response), pages + 1
            assert parse_qs(urlparse(url).query)["limit"] == ["7"] if url else True
    finally:
        stop.set()
        inserter.join(timeout=30)
    assert len(seen) == len(set(seen))  # no repeats
    assert set(existing) <= set(seen)  # no gaps among the jobs that existed
    positions = [seen.index(j) for j in reversed(existing)]
    assert positions == sorted(positions)  # newest first
    assert pages >= 4


def test_the_last_page_has_no_link(api):
    api.post("/api/notifications", json=SMS)
    response = api.get("/api/notifications", params={"limit": 5})
    assert "link" not in response.headers and len(response.json()) == 1


def test_a_limit_over_100_or_an_unknown_parameter_is_a_400(api):
    for params, field in [({"limit": 101}, "limit"), ({"order": "asc"}, "order"), ({"cursor": "zzz"}, "cursor")]:
        r = api.get("/api/notifications", params=params)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field


def test_a_page_of_long_emails_stops_before_lambdas_6_mb_response_and_links_the_rest(api):
    """15 e-mails of 100,000 quotes take 400 KB each in Lambda's JSON response: a page of 100 of
    them would be 40 MB, so the page ends early, with a Link to the rest."""
    quotes = '"' * 100_000
    ids = [api.post("/api/notifications", json={"type": "email", "recipient": f"u{i}@example.com",
                                                "message": quotes}).json()["id"] for i in range(15)]
    seen, url, pages = [], "/api/notifications?limit=100", 0
    while url:
        page = api.get(url)
        assert len(json.dumps({"statusCode": 200, "headers": {}, "body": page.text})) < 6 * 1024 * 1024
        seen += [j["id"] for j in page.json()]
        url, pages = next_link(page), pages + 1
    assert seen == list(reversed(ids)) and pages > 1
