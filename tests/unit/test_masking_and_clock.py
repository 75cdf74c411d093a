"""Recipient masking and timestamp format."""

from datetime import UTC, datetime, timedelta, timezone

from shared.clock import iso, now
from shared.masking import mask_recipient


def test_an_email_keeps_its_first_letter_and_domain():
    assert mask_recipient("alice@example.com") == "a***@example.com"


def test_a_phone_number_keeps_country_code_and_last_three_digits():
    assert mask_recipient("+2348012345678") == "+234*******678"


def test_a_device_token_is_mostly_hidden():
    masked = mask_recipient("device-token-abcdef123456")
    assert masked.startswith("devi") and "abcdef" not in masked


def test_short_values_are_hidden_entirely():
    assert mask_recipient("abc") == "***"


def test_timestamps_are_utc_with_milliseconds_and_z():
    t = datetime(2026, 11, 24, 14, 5, 1, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso(t) == "2026-11-24T13:05:01.123Z"


def test_a_naive_or_utc_time_prints_as_utc_and_whole_seconds_keep_their_milliseconds():
    from bson.tz_util import utc  # what pymongo's tz-aware reads carry

    assert iso(datetime(2026, 11, 24, 13, 5, 1)) == "2026-11-24T13:05:01.000Z"
    assert iso(datetime(2026, 11, 24, 13, 5, 1, 999999, tzinfo=utc)) == "2026-11-24T13:05:01.999Z"
    assert iso(datetime(2026, 11, 24, 13, 5, 1, 5000, tzinfo=UTC)) == "2026-11-24T13:05:01.005Z"


def test_now_is_truncated_to_milliseconds():
    t = now()
    assert t.tzinfo is UTC and t.microsecond % 1000 == 0
