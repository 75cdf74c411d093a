"""API keys and tenants: every /api route needs a key; a tenant sees only its own jobs."""

import pytest

from tests.conftest import wait_for

SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


@pytest.fixture
def acme(api_as):
    return api_as("acme")


@pytest.fixture
def globex(api_as):
    return api_as("globex")


def test_no_key_is_401_key_required_on_every_api_route(acme):
    job_id = acme.post("/api/notifications", json=SMS).json()["id"]
    for method, path in [("GET", "/api/notifications"), ("POST", "/api/notifications"),
                         ("GET", f"/api/notifications/{job_id}"), ("GET", f"/api/notifications/{job_id}/logs"),
                         ("POST", f"/api/notifications/{job_id}/cancel"), ("GET", "/api/stats")]:
        r = acme.request(method, path, headers={"Authorization": ""})
        assert r.status_code == 401, (method, path)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:wavecom:problem:key-required"


def test_a_wrong_key_is_401_key_rejected(acme):
    r = acme.get("/api/notifications", headers={"Authorization": "Bearer wck_not-a-key"})
    assert r.status_code == 401 and r.json()["type"] == "urn:wavecom:problem:key-rejected"


def test_health_needs_no_key(acme):
    assert acme.get("/health", headers={"Authorization": ""}).status_code == 200


def test_a_revoked_key_stops_working(deps, api_as):
    from shared import tenants

    issued = deps.keys.create("initech")
    client = api_as("initech")
    client.headers["Authorization"] = f"Bearer {issued.key}"
    assert client.get("/api/notifications").status_code == 200
    assert deps.keys.revoke(issued.key_id) == 1
    deps.keys._cache.clear()  # as after tenants.CACHE_SECONDS on every process
    assert tenants.CACHE_SECONDS <= 5
    assert client.get("/api/notifications").status_code == 401


def test_keys_are_stored_only_as_digests(deps):
    issued = deps.keys.create("hooli")
    stored = deps.keys._c.find_one({"tenant": "hooli"})
    assert issued.key not in str(stored) and stored["keyId"] == issued.key_id


def test_another_tenants_job_is_not_found_for_reads_and_writes(acme, globex):
    job_id = acme.post("/api/notifications", json=SMS).json()["id"]
    for method, path in [("GET", f"/api/notifications/{job_id}"), ("GET", f"/api/notifications/{job_id}/logs"),
                         ("POST", f"/api/notifications/{job_id}/cancel"), ("POST", f"/api/notifications/{job_id}/retry")]:
        assert globex.request(method, path).status_code == 404, (method, path)
    assert acme.get(f"/api/notifications/{job_id}").status_code == 200
    assert acme.get(f"/api/notifications/{job_id}").json()["status"] != "cancelled"


def test_each_tenant_lists_and_counts_only_its_own_jobs(acme, globex):
    mine = {acme.post("/api/notifications", json=SMS).json()["id"] for _ in range(3)}
    theirs = {globex.post("/api/notifications", json=SMS).json()["id"] for _ in range(2)}
    assert {j["id"] for j in acme.get("/api/notifications").json()} == mine
    assert {j["id"] for j in globex.get("/api/notifications").json()} == theirs
    # Counters are written behind, within a moment of the jobs.
    wait_for(lambda: globex.get("/api/stats").json()["total"] == 2, what="globex's own 2 jobs to be counted")
    wait_for(lambda: acme.get("/api/stats").json()["total"] == 3, what="acme's own 3 jobs to be counted")


def test_the_bootstrap_key_makes_tenant_default(deps):
    deps.keys.ensure("default", "wck_local-dev-key")
    deps.keys.ensure("default", "wck_local-dev-key")  # idempotent
    assert deps.keys.tenant_of("wck_local-dev-key") == "default"
