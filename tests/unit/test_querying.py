"""List query parameters and cursors."""

import pytest

from shared.errors import ValidationFailed
from shared.querying import Cursor, parse_list_query


def fields_of(query):
    with pytest.raises(ValidationFailed) as info:
        parse_list_query(query)
    return {e.field: e.message for e in info.value.errors}


def test_no_parameters_means_the_latest_100():
    query, cursor = parse_list_query({})
    assert query.limit == 100 and query.filters() == {} and cursor is None


def test_filters_become_equality_matches():
    query, _ = parse_list_query({"status": ["failed"], "type": ["sms"], "recipient": ["+2348012345678"]})
    assert query.filters() == {"status": "failed", "type": "sms", "recipient": "+2348012345678"}


@pytest.mark.parametrize(
    "query,field",
    [({"limit": ["101"]}, "limit"), ({"limit": ["0"]}, "limit"), ({"limit": ["ten"]}, "limit"),
     ({"status": ["lost"]}, "status"), ({"type": ["fax"]}, "type"), ({"sort": ["asc"]}, "sort"),
     ({"since": ["yesterday"]}, "since"), ({"since": ["2026-11-24T13:05:01"]}, "since"),
     ({"cursor": ["not-a-cursor"]}, "cursor"), ({"status": ["sent", "failed"]}, "status"),
     ({"limit": ["1.0"]}, "limit"), ({"limit": ["+2"]}, "limit"), ({"limit": ["1_0"]}, "limit"),
     ({"limit": [" 5"]}, "limit"), ({"limit": ["\u0665"]}, "limit"), ({"since": ["0.5"]}, "since"),
     ({"since": ["1"]}, "since"), ({"since": ["-1"]}, "since"), ({"since": ["2026-11-24"]}, "since"),
     ({"since": ["2026-11-24 13:05:01Z"]}, "since"), ({"since": ["2026-13-24T13:05:01Z"]}, "since")],
)
def test_bad_parameters_are_named(query, field):
    assert field in fields_of(query)


def test_since_needs_a_zone():
    query, _ = parse_list_query({"since": ["2026-11-24T13:05:01Z"]})
    assert query.since is not None and query.since.utcoffset().total_seconds() == 0


def test_a_cursor_round_trips_and_is_opaque():
    cursor = Cursor(1764000000123, "6b05a123e5c6fe8521f2f075")
    token = cursor.encode()
    assert "6b05a123" not in token and "=" not in token
    assert parse_list_query({"cursor": [token]})[1] == cursor


@pytest.mark.parametrize("since", ["2026-11-24T13:05:01Z", "2026-11-24t13:05:01z", "2026-11-24T13:05:01.123456789+01:00",
                                   "0001-01-01T00:00:00+01:00", "2016-12-31T23:59:60Z"])
def test_since_takes_every_rfc3339_time(since):
    query, _ = parse_list_query({"since": [since]})
    assert query.since is not None and query.since.tzinfo is not None


def test_a_whole_number_limit_is_taken():
    assert parse_list_query({"limit": ["7"]})[0].limit == 7
    assert fields_of({"limit": ["-3"]}) == {"limit": "must be at least 1"}


def test_every_string_of_the_documented_cursor_form_is_a_position():
    for token in ("A" * 24, "_-" * 12, "z9" * 12):
        cursor = parse_list_query({"cursor": [token]})[1]
        assert cursor is not None and len(cursor.job_id) == 24 and cursor.created_ms >= 0


def test_a_cursor_of_the_earlier_form_still_works():
    import base64

    earlier = base64.urlsafe_b64encode(b'{"t":1764000000123,"i":"6b05a123e5c6fe8521f2f075"}').decode().rstrip("=")
    assert parse_list_query({"cursor": [earlier]})[1] == Cursor(1764000000123, "6b05a123e5c6fe8521f2f075")
