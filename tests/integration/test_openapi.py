"""The OpenAPI document describes the API (tests/e2e/test_clients.py fuzzes a live stack against it)."""

import pytest

from functions.openapi import OPERATIONS, document
from functions.routes import ROUTES
from shared.errors import ValidationFailed
from shared.stats import window_from_query
from shared.validation import E164, NOT_BLANK


def test_every_route_is_documented_and_only_probes_are_public():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.name and route.name in OPERATIONS
        assert (operation["security"] == []) == route.public


def test_the_document_is_served_without_a_key(api):
    r = api.get("/api/openapi.json", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["info"]["title"] == "WaveCom Notify"


def test_the_stats_window_in_the_document_is_the_one_the_api_takes():
    params = {p["name"]: p["schema"] for p in document()["paths"]["/api/stats"]["get"]["parameters"]}
    for name, schema in params.items():
        other = {"windowSeconds": "bucketSeconds", "bucketSeconds": "windowSeconds"}[name]
        fixed = {other: [str(params[other]["default"])]}
        for value, ok in ((schema["minimum"] - 1, False), (schema["maximum"] + 1, False), (schema["default"], True)):
            try:
                window_from_query({**fixed, name: [str(value)]})
                assert ok, (name, value)
            except ValidationFailed as e:
                assert not ok and e.errors[0].field == name, (name, value)
        window_from_query({"windowSeconds": ["3600"], "bucketSeconds": ["300"]})  # both ends taken
        window_from_query({"windowSeconds": ["720"], "bucketSeconds": ["1"]})


def test_digits_outside_ascii_are_a_bad_stats_window_not_a_server_error():
    with pytest.raises(ValidationFailed):
        window_from_query({"windowSeconds": ["\u00b2"]})  # '²': str.isdigit() says yes, int() says no


def test_the_create_body_is_one_schema_per_channel_chosen_by_type():
    schemas = document()["components"]["schemas"]
    create = schemas["CreateNotification"]
    assert create["discriminator"]["propertyName"] == "type"
    branches = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in create["oneOf"]]
    assert [b["properties"]["type"]["const"] for b in branches] == ["email", "sms", "push"]
    for branch in branches:
        assert branch["additionalProperties"] is False and set(branch["required"]) == {"type", "recipient", "message"}
        assert branch["properties"]["message"]["minLength"] == 1
    email, sms, push = branches
    assert email["properties"]["recipient"]["format"] == "email"
    assert sms["properties"]["recipient"]["pattern"] == E164 and sms["properties"]["message"]["maxLength"] == 1600
    assert push["properties"]["recipient"]["pattern"] == NOT_BLANK


def test_a_create_answer_links_to_what_can_be_done_with_the_job():
    created = document()["paths"]["/api/notifications"]["post"]["responses"]["201"]
    targets = {link["operationId"] for link in created["links"].values()}
    assert targets == {"get", "logs", "retry", "cancel"}
    assert all(link["parameters"] == {"id": "$response.body#/id"} for link in created["links"].values())


def test_the_postman_collection_in_the_repository_is_exported_from_the_document():
    from pathlib import Path

    from functions.postman import collection, render

    kept = Path(__file__).resolve().parents[2] / "WaveCom-Notifications.postman_collection.json"
    assert kept.read_text() == render(), "run: wavecom openapi --postman WaveCom-Notifications.postman_collection.json"
    names = {item["request"]["method"] + " " + item["request"]["url"]["raw"] for item in collection()["item"]}
    assert "POST {{baseUrl}}/api/notifications/{{id}}/retry" in names
