"""Bad requests get a clear 4xx, never a 500; responses carry security headers."""

from tests.conftest import all_jobs

SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


def test_unknown_body_fields_are_refused(api):
    r = api.post("/api/notifications", json={**SMS, "urgency": "high"})
    assert r.status_code == 400 and r.json()["errors"] == [{"field": "urgency", "message": "is not a known field"}]


def test_operator_objects_are_refused_wherever_a_string_belongs(api, deps):
    for field in ("recipient", "message", "type"):
        r = api.post("/api/notifications", json={**SMS, field: {"$ne": None}})
        assert r.status_code == 400 and field in {e["field"] for e in r.json()["errors"]}
    r = api.get("/api/notifications", params={"recipient": '{"$ne": null}'})
    assert r.status_code == 200 and r.json() == []  # a plain string compared for equality
    assert all_jobs(deps) == []


def test_a_body_over_one_megabyte_is_413(api):
    r = api.post("/api/notifications", content=b"{" + b" " * (1024 * 1024) + b"}",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_json_only(api):
    r = api.post("/api/notifications", content=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415


def test_security_headers_are_on_api_responses(api):
    r = api.get("/api/notifications")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in r.headers["content-security-policy"]
