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


def test_now_is_truncated_to_milliseconds():
    t = now()
    assert t.tzinfo is UTC and t.microsecond % 1000 == 0
