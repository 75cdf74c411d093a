"""Idempotency-Key on creates: one job per key, the first answer replayed, safe when concurrent."""

import threading

from shared.idempotency import KEYS
from tests.conftest import all_jobs

SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


def count_jobs(deps):
    return len(all_jobs(deps))


def test_the_same_key_and_body_return_the_first_answer(api, deps):
    first = api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "order-1"})
    again = api.post("/api/notifications", json=dict(reversed(SMS.items())), headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert count_jobs(deps) == 1


def test_the_same_key_with_another_body_is_422_naming_the_conflict(api, deps):
    api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "order-2"})
    r = api.post("/api/notifications", json={**SMS, "message": "another"}, headers={"Idempotency-Key": "order-2"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count_jobs(deps) == 1


def test_keys_are_scoped_to_the_tenant(api_as, deps):
    a, b = api_as("acme"), api_as("globex")
    ids = {c.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "shared"}).json()["id"] for c in (a, b)}
    assert len(ids) == 2


def test_a_key_in_progress_is_409(api, deps):
    deps.idempotency.begin("default", "order-3", "digest-of-the-first-body")
    from shared.idempotency import fingerprint

    deps.idempotency._c.update_one({"tenant": "default"}, {"$set": {"fingerprint": fingerprint(SMS)}})
    r = api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "order-3"})
    assert r.status_code == 409 and r.headers["retry-after"]


def test_concurrent_duplicates_make_exactly_one_job(api, deps):
    answers = []
    barrier = threading.Barrier(8)

    def post():
        barrier.wait()
        answers.append(api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "burst"}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert {r.status_code for r in answers} <= {201, 409}
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    assert count_jobs(deps) == 1


def test_an_expired_key_can_be_used_again(api, deps):
    first = api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "order-4"}).json()["id"]
    deps.idempotency._c.update_many({}, {"$set": {"expiresAtMs": 0}})  # 24 h later
    second = api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "order-4"}).json()["id"]
    assert first != second


def test_store_gap_ttl_indexes_are_kept_but_never_expire_so_expiry_is_checked_on_read(deps):
    db = deps.jobs.client.get_database(deps.settings.mongodb_db)
    ttl = [i for i in db[KEYS].list_indexes() if "expireAfterSeconds" in i]
    assert ttl and ttl[0]["key"] == {"expiresAt": 1}  # MongoDB deletes by this index
    # The embedded store has no TTL monitor: an expired record stays until it is read.


def test_a_key_over_255_characters_is_a_400(api):
    r = api.post("/api/notifications", json=SMS, headers={"Idempotency-Key": "k" * 256})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Idempotency-Key"
