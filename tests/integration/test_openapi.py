"""The OpenAPI document describes the API, and the API keeps to it under fuzzing."""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from functions.openapi import OPERATIONS, document
from functions.routes import ROUTES
from local.wsgi import make_app


def test_every_route_is_documented_and_only_probes_are_public():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.name and route.name in OPERATIONS
        assert (operation["security"] == []) == route.public


def test_the_create_body_schema_is_the_validating_model():
    schema = document()["components"]["schemas"]["CreateNotification"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"type", "recipient", "message"}
    assert schema["properties"]["type"]["enum"] == ["email", "sms", "push"]


def test_the_document_is_served_without_a_key(api):
    r = api.get("/api/openapi.json", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["info"]["title"] == "WaveCom Notify"


FUZZ_EXAMPLES = int(os.environ.get("WAVECOM_FUZZ_EXAMPLES", "40"))  # per operation; bounded so the run stays within seconds
# Left out: "a schema-valid request is accepted". JSON Schema cannot say which numbers are
# plausible E.164 numbers or which addresses are deliverable-looking, so a body can match the
# schema and still be a documented 400 naming the field.


def test_the_api_keeps_to_its_document_and_never_answers_5xx(deps, worker):
    """Schemathesis generates requests from the document (valid and invalid); every answer
    must be documented, match its schema and content type, and never be a 5xx."""
    key = deps.keys.create("default").key
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", make_app(lambda: deps))
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call_and_validate(headers={"Authorization": f"Bearer {key}"},
                                              excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500

        fuzz()
        tried.append(operation.label)
    # Schemathesis leaves out the operation that serves the document it loaded.
    assert set(tried) == {f"{r.method} {r.path}" for r in ROUTES if r.name != "openapi"}


def test_the_postman_collection_in_the_repository_is_exported_from_the_document():
    from pathlib import Path

    from functions.postman import collection, render

    kept = Path(__file__).resolve().parents[2] / "WaveCom-Notifications.postman_collection.json"
    assert kept.read_text() == render(), "run: wavecom openapi --postman WaveCom-Notifications.postman_collection.json"
    names = {item["request"]["method"] + " " + item["request"]["url"]["raw"] for item in collection()["item"]}
    assert "POST {{baseUrl}}/api/notifications/{{id}}/retry" in names
