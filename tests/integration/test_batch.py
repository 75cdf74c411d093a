"""POST /api/notifications/batch: per-item validation, bulk store and publish, idempotency."""

from tests.conftest import all_jobs, provider, wait_for

SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}
BAD = {"type": "sms", "recipient": "0801", "message": "x"}


def test_a_valid_batch_is_201_and_every_job_is_delivered(api, deps, worker):
    items = [{**SMS, "recipient": f"+2348012345{n:03d}"} for n in range(120)]
    r = api.post("/api/notifications/batch", json=items)
    assert r.status_code == 201
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (120, 0)
    assert [i["index"] for i in body["items"]] == list(range(120))
    assert all(i["status"] == "queued" and len(i["id"]) == 24 for i in body["items"])
    ids = [i["id"] for i in body["items"]]
    wait_for(lambda: all(deps.jobs.get(j).status.value == "sent" for j in ids), timeout=30, what="all sent")
    assert all(provider(deps, "sms").delivered(j) == 1 for j in ids)
    assert deps.jobs.timeline(ids[0])[0].event.value == "created"


def test_a_partly_valid_batch_is_207_and_names_each_bad_field(api, deps):
    r = api.post("/api/notifications/batch", json=[SMS, BAD, {**SMS, "priority": 1}, SMS])
    assert r.status_code == 207
    items = r.json()["items"]
    assert [("id" in i, "errors" in i) for i in items] == [(True, False), (False, True), (False, True), (True, False)]
    assert items[1]["errors"] == [{"field": "recipient", "message": "must be an E.164 phone number, e.g. +2348012345678"}]
    assert items[2]["errors"][0]["field"] == "priority"
    assert len(all_jobs(deps)) == 2


def test_a_batch_with_no_valid_item_is_a_400_problem_listing_each(api, deps):
    r = api.post("/api/notifications/batch", json=[BAD, {"type": "fax"}])
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 400 and body["accepted"] == 0 and len(body["items"]) == 2
    assert all_jobs(deps) == []


def test_more_than_1000_items_is_413(api):
    assert api.post("/api/notifications/batch", json=[SMS] * 1001).status_code == 413


def test_a_body_that_is_not_an_array_is_400(api):
    r = api.post("/api/notifications/batch", json=SMS)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"


def test_a_batch_is_accepted_as_pending_while_the_broker_is_away(make_deps, api_as):
    import httpx

    from local.wsgi import make_app

    offline = make_deps(rabbitmq_url="amqp://guest:guest@127.0.0.1:1/%2F")
    key = offline.keys.create("default").key
    with httpx.Client(transport=httpx.WSGITransport(app=make_app(lambda: offline)), base_url="http://t",
                      headers={"Authorization": f"Bearer {key}"}) as client:
        r = client.post("/api/notifications/batch", json=[SMS, SMS])
    assert r.status_code == 201 and {i["status"] for i in r.json()["items"]} == {"pending"}


def test_the_same_idempotency_key_replays_the_batch(api, deps):
    first = api.post("/api/notifications/batch", json=[SMS, BAD], headers={"Idempotency-Key": "batch-7"})
    again = api.post("/api/notifications/batch", json=[SMS, BAD], headers={"Idempotency-Key": "batch-7"})
    assert first.status_code == again.status_code == 207 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(all_jobs(deps)) == 1
