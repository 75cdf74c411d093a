"""Validation of create requests, per channel."""

import pytest

from shared.errors import ValidationFailed
from shared.validation import (
    EMAIL_MAX_BYTES,
    MAX_METADATA_BYTES,
    PUSH_MAX_BYTES,
    SMS_MAX_CHARS,
    parse_json_body,
    validate_create,
)


def make_body(**overrides):
    body = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}
    body.update(overrides)
    return body


def fields_of(payload):
    with pytest.raises(ValidationFailed) as info:
        validate_create(payload)
    return {e.field: e.message for e in info.value.errors}


def test_a_valid_sms_becomes_a_new_job():
    job = validate_create(make_body(metadata={"ref": "A1"}))
    assert (job.type, job.recipient, job.metadata) == ("sms", "+2348012345678", {"ref": "A1"})


def test_metadata_defaults_to_an_empty_object():
    assert validate_create(make_body()).metadata == {}


def test_an_unknown_type_names_the_type_field():
    assert "must be one of" in fields_of(make_body(type="fax"))["type"]


def test_missing_fields_are_each_named():
    assert set(fields_of({})) == {"type", "recipient", "message"}


@pytest.mark.parametrize("number", ["08012345678", "+0123", "+234 801 234 5678", "+1", "hello"])
def test_sms_needs_an_e164_number(number):
    assert "E.164" in fields_of(make_body(recipient=number))["recipient"]


@pytest.mark.parametrize("address", ["alice", "alice@", "@example.com", "a@b", "a b@example.com"])
def test_email_needs_a_valid_address(address):
    assert "email" in fields_of(make_body(type="email", recipient=address))["recipient"]


def test_a_valid_email_is_accepted():
    assert validate_create(make_body(type="email", recipient="alice@example.com")).type == "email"


def test_push_needs_a_non_empty_token():
    assert "token" in fields_of(make_body(type="push", recipient="   "))["recipient"]


@pytest.mark.parametrize(
    "channel,recipient,ok,too_long",
    [
        ("sms", "+2348012345678", "x" * SMS_MAX_CHARS, "x" * (SMS_MAX_CHARS + 1)),
        ("email", "a@example.com", "x" * EMAIL_MAX_BYTES, "x" * (EMAIL_MAX_BYTES + 1)),
        ("push", "token-1", "x" * PUSH_MAX_BYTES, "x" * (PUSH_MAX_BYTES + 1)),
    ],
)
def test_each_channel_has_its_message_limit(channel, recipient, ok, too_long):
    validate_create(make_body(type=channel, recipient=recipient, message=ok))
    assert "at most" in fields_of(make_body(type=channel, recipient=recipient, message=too_long))["message"]


def test_push_and_email_limits_count_bytes_not_characters():
    emoji = "\U0001f600" * (PUSH_MAX_BYTES // 4 + 1)  # 4 bytes each
    assert "bytes" in fields_of(make_body(type="push", recipient="t", message=emoji))["message"]


def test_an_empty_message_is_refused():
    assert fields_of(make_body(message="  "))["message"] == "must not be empty"


def test_metadata_must_be_an_object_of_bounded_size():
    assert fields_of(make_body(metadata=[1, 2]))["metadata"] == "must be a JSON object"
    big = {"k": "v" * MAX_METADATA_BYTES}
    assert "at most" in fields_of(make_body(metadata=big))["metadata"]


def test_an_operator_object_as_recipient_is_refused():
    assert fields_of(make_body(recipient={"$ne": None}))["recipient"] == "must be a string"


def test_shape_and_channel_problems_are_reported_together():
    errors = fields_of(make_body(type="email", recipient="nope", message="", metadata=[]))
    assert set(errors) == {"recipient", "message", "metadata"}


def test_a_body_that_is_not_an_object_is_refused():
    assert fields_of([1, 2]) == {"body": "must be a JSON object"}


def test_malformed_json_names_the_body():
    with pytest.raises(ValidationFailed) as info:
        parse_json_body(b'{"type": ')
    assert info.value.errors[0].field == "body"


def test_error_messages_never_echo_the_message_body():
    secret = "OTP 998877"
    errors = fields_of(make_body(recipient="bad", message=secret))
    assert all(secret not in m for m in errors.values())


@pytest.mark.parametrize(
    "metadata",
    [{"a\u0000b": 1}, {"$where": "x"}, {"a.b": 1}, {"k": "\udad7"}, {"\udad7": 1}, {"k": [{"deep": {"$gt": 1}}]}],
)
def test_metadata_the_store_cannot_hold_is_refused(metadata):
    assert "metadata" in fields_of(make_body(metadata=metadata))


def test_metadata_nesting_is_bounded():
    deep: dict = {}
    node = deep
    for _ in range(12):
        node["k"] = {}
        node = node["k"]
    assert "nest" in fields_of(make_body(metadata=deep))["metadata"]


def test_a_lone_surrogate_in_the_message_is_refused():
    assert fields_of(make_body(message="hi \udad7"))["message"] == "must be valid Unicode text"


def test_metadata_numbers_must_fit_in_64_bits():
    assert "64 bits" in fields_of(make_body(metadata={"n": 2**63}))["metadata"]
    validate_create(make_body(metadata={"n": 2**63 - 1}))


def test_metadata_numbers_of_either_kind_must_fit_in_64_bits():
    assert "64 bits" in fields_of(make_body(metadata={"n": 1e300}))["metadata"]
    validate_create(make_body(metadata={"n": 1.5, "m": -(2**63)}))


@pytest.mark.parametrize("key", ["", "a", "a$", "ünïcode key"])
def test_metadata_keys_the_document_allows_are_taken(key):
    validate_create(make_body(metadata={key: {key: 1}}))


def test_priority_and_times_are_read_into_the_new_job():
    job = validate_create(make_body(priority="high", ttlSeconds=300))
    assert job.priority == "high" and job.send_at is None and job.ttl_seconds == 300
    assert job.expires_at is not None and validate_create(make_body()).priority == "normal"


def test_ttl_may_be_written_as_a_json_integer_with_a_zero_fraction():
    assert validate_create(make_body(ttlSeconds=60.0)).ttl_seconds == 60
    assert "ttlSeconds" in fields_of(make_body(ttlSeconds=60.5))


def test_a_send_time_is_kept_in_utc_to_the_millisecond():
    from datetime import UTC, datetime, timedelta

    ahead = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=123456)
    job = validate_create(make_body(sendAt=ahead.astimezone().isoformat()))
    assert job.send_at == ahead.replace(microsecond=123000) and job.send_at.tzinfo == UTC


@pytest.mark.parametrize(("overrides", "field", "says"), [
    ({"priority": "urgent"}, "priority", "must be one of: high, normal, low"),
    ({"sendAt": "tomorrow"}, "sendAt", "must be an ISO-8601 time with a zone"),
    ({"sendAt": "2026-11-24T13:05:01"}, "sendAt", "must be an ISO-8601 time with a zone"),
    ({"sendAt": 1764000000}, "sendAt", "must be an ISO-8601 time with a zone"),
    ({"sendAt": "2999-01-01T00:00:00Z"}, "sendAt", "must be at most 30 days ahead"),
    ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt", "must be in the future"),
    ({"expiresAt": "0001-01-01T00:00:00+01:00"}, "expiresAt", "must fall within the years 1 to 9999"),
    ({"ttlSeconds": 0}, "ttlSeconds", "must be a whole number of seconds from 1 to 604800"),
    ({"ttlSeconds": 604801}, "ttlSeconds", "must be a whole number of seconds"),
    ({"ttlSeconds": "60"}, "ttlSeconds", "must be a whole number of seconds"),
    ({"ttlSeconds": True}, "ttlSeconds", "must be a whole number of seconds"),
    ({"ttlSeconds": 60, "expiresAt": "2999-01-01T00:00:00Z"}, "ttlSeconds", "give expiresAt or ttlSeconds, not both"),
])
def test_bad_priorities_and_times_name_their_field(overrides, field, says):
    assert fields_of(make_body(**overrides))[field].startswith(says)
