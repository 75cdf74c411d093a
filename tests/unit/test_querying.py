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
     ({"cursor": ["not-a-cursor"]}, "cursor"), ({"status": ["sent", "failed"]}, "status")],
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
