"""A job's times: what a create may ask, and what a claim does with a job because of them."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.deadlines import Verdict, resolve, retry_too_late, verdict
from shared.states import Status

NOW = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)


def test_ttl_counts_from_a_send_time_ahead_and_otherwise_from_now():
    later = NOW + timedelta(hours=2)
    assert resolve(later, None, 300, NOW).expires_at == later + timedelta(seconds=300)
    assert resolve(None, None, 300, NOW).expires_at == NOW + timedelta(seconds=300)
    past = resolve(NOW - timedelta(hours=1), None, 300, NOW)
    assert past.send_at is None and past.expires_at == NOW + timedelta(seconds=300)  # a past sendAt: at once


@pytest.mark.parametrize(("send_at", "expires_at", "ttl", "field", "says"), [
    (NOW + timedelta(days=30, seconds=1), None, None, "sendAt", "must be at most 30 days ahead"),
    (None, NOW, None, "expiresAt", "must be in the future"),
    (NOW + timedelta(hours=1), NOW + timedelta(minutes=59), None, "expiresAt", "must be after sendAt"),
    (None, NOW + timedelta(hours=1), 60, "ttlSeconds", "give expiresAt or ttlSeconds, not both"),
])
def test_times_that_cannot_be_kept_are_refused_by_field(send_at, expires_at, ttl, field, says):
    assert (field, says) in resolve(send_at, expires_at, ttl, NOW).problems


def test_thirty_days_ahead_is_still_allowed():
    asked = resolve(NOW + timedelta(days=30), None, None, NOW)
    assert asked.problems == [] and asked.send_at == NOW + timedelta(days=30)


@pytest.mark.parametrize(("status", "send_at", "expires_at", "expected"), [
    (Status.QUEUED, None, None, Verdict.CLAIM),
    (Status.RETRYING, None, MS + 1, Verdict.CLAIM),
    (Status.RETRYING, None, MS, Verdict.EXPIRE),
    (Status.PENDING, None, MS - 1, Verdict.EXPIRE),
    (Status.SCHEDULED, MS + 1, None, Verdict.BUSY),
    (Status.SCHEDULED, MS, None, Verdict.CLAIM),
    (Status.SCHEDULED, MS + 1000, MS - 1, Verdict.EXPIRE),  # an expiry wins over waiting
    (Status.SENDING, None, MS - 1, Verdict.BUSY),  # held by a lease: its holder decides
    (Status.SENT, None, MS - 1, Verdict.BUSY),
    (Status.EXPIRED, None, MS - 1, Verdict.BUSY),
])
def test_a_claim_claims_expires_or_leaves_a_job(status, send_at, expires_at, expected):
    assert verdict(status, send_at, expires_at, MS) is expected


def test_a_retry_that_would_start_at_or_after_the_expiry_is_too_late():
    assert retry_too_late(MS, MS) and retry_too_late(MS, MS + 1)
    assert not retry_too_late(MS, MS - 1) and not retry_too_late(None, MS)
