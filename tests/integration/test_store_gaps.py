"""Where the embedded store differs from MongoDB, recorded so the code's choices stay explained.

Each test states the gap as the embedded store shows it today and the portable form the code
uses instead. If one starts failing, the store closed the gap: the workaround can go.
"""

from datetime import UTC, datetime

import pytest
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import WriteError

from shared.jobdocs import eq
from shared.jobdocs import stored_events as _events
from shared.mongo import connect


@pytest.fixture
def db(store_uri):
    name = f"gaps_{ObjectId()}"
    database = connect(store_uri, name)
    yield database
    database.client.drop_database(name)
    database.client.close()


def test_a_top_level_set_of_a_datetime_is_stored_as_a_string_so_updates_use_current_date(db):
    t = datetime(2026, 11, 24, 13, 5, 1, 123000, tzinfo=UTC)
    _id = db.jobs.insert_one({"updatedAt": t}).inserted_id
    db.jobs.update_one({"_id": _id}, {"$set": {"updatedAt": t}})
    assert isinstance(db.jobs.find_one({"_id": _id})["updatedAt"], str)  # MongoDB: a datetime
    db.jobs.update_one({"_id": _id}, {"$currentDate": {"updatedAt": True}})
    assert isinstance(db.jobs.find_one({"_id": _id})["updatedAt"], datetime)


def test_id_in_a_compound_index_breaks_inserts_so_the_list_index_is_created_at_alone(db):
    db.jobs.create_index([("createdAt", DESCENDING), ("_id", DESCENDING)])
    with pytest.raises(WriteError):
        db.jobs.insert_one({"createdAt": datetime.now(UTC)})  # MongoDB: accepted
    db.other.create_index([("createdAt", ASCENDING)])
    db.other.insert_one({"createdAt": datetime.now(UTC)})


def test_date_ranges_in_find_compare_whole_seconds_so_the_outbox_grace_is_seconds(db):
    """The embedded store compares a date range in Python over every document the rest of the
    query selects (whole seconds, as below), so the sweeper selects stale jobs by status and
    order alone and compares their times itself."""
    t = datetime(2026, 11, 24, 14, 50, 18, 100000, tzinfo=UTC)
    db.jobs.insert_one({"updatedAt": t})
    almost = t.replace(microsecond=999000)
    assert db.jobs.count_documents({"updatedAt": {"$lt": almost}}) == 1
    assert list(db.jobs.find({"updatedAt": {"$lt": almost}})) == []  # MongoDB: the document
    assert len(list(db.jobs.find({"updatedAt": {"$lt": t.replace(second=19, microsecond=0)}}))) == 1


def test_pushed_subdocuments_come_back_as_json_text_so_the_adapter_parses_timelines(db):
    t = datetime(2026, 11, 24, 13, 5, 1, 123000, tzinfo=UTC)
    _id = db.jobs.insert_one({"events": [{"event": "created", "at": t, "details": {}}]}).inserted_id
    db.jobs.update_one({"_id": _id}, {"$push": {"events": {"event": "queued", "at": t, "details": {"ok": True}}}})
    raw = db.jobs.find_one({"_id": _id})["events"]
    assert all(isinstance(e, str) for e in raw)  # MongoDB: two sub-documents; the first one too is now text
    assert _events(raw) == [{"event": "created", "at": t, "details": {}},
                            {"event": "queued", "at": t, "details": {"ok": True}}]


def test_a_set_boolean_comes_back_as_1_so_the_adapter_reads_booleans_with_bool(db):
    _id = db.jobs.insert_one({"revoked": False}).inserted_id
    db.jobs.update_one({"_id": _id}, {"$set": {"revoked": True}})
    assert db.jobs.find_one({"_id": _id})["revoked"] == 1  # MongoDB: True
    assert db.jobs.find_one({"_id": _id})["revoked"] is not True


def plan(db, query, sort):
    return str(db.jobs.find(query).sort(sort).limit(100).explain()["queryPlanner"]["winningPlan"])


def test_implicit_equality_reads_every_document_so_equality_is_written_as_eq(db):
    db.jobs.create_index([("tenant", ASCENDING), ("createdAtMs", DESCENDING)])
    newest = [("createdAtMs", DESCENDING)]
    assert "SCAN jobs" in plan(db, {"tenant": "acme"}, newest)  # MongoDB: the index
    assert "USING INDEX" in plan(db, {"tenant": eq("acme")}, newest)


def test_an_or_of_ranges_reads_every_document_so_a_cursor_is_read_as_two_ranges(db):
    db.jobs.create_index([("tenant", ASCENDING), ("createdAtMs", DESCENDING)])
    newest = [("createdAtMs", DESCENDING)]
    either = {"tenant": eq("acme"), "$or": [{"createdAtMs": {"$lt": 5}}, {"createdAtMs": eq(5), "_id": {"$lt": ObjectId()}}]}
    assert "SCAN jobs" in plan(db, either, newest)  # MongoDB: the index, for both branches
    assert "USING INDEX" in plan(db, {"tenant": eq("acme"), "createdAtMs": {"$lt": 5}}, newest)


def test_a_range_on_id_reads_every_document_so_a_cursor_compares_ids_of_its_millisecond_in_code(db):
    db.jobs.create_index([("tenant", ASCENDING), ("createdAtMs", DESCENDING)])
    newest = [("createdAtMs", DESCENDING)]
    same_ms = {"tenant": eq("acme"), "createdAtMs": eq(5)}
    assert "SCAN jobs" in plan(db, {**same_ms, "_id": {"$lt": ObjectId()}}, newest)  # MongoDB: the index
    assert "USING INDEX" in plan(db, same_ms, newest)


def test_a_group_on_a_compound_key_does_not_group_so_counters_are_recounted_per_tenant(db):
    db.jobs.insert_many([{"tenant": "a", "status": "sent"}, {"tenant": "b", "status": "failed"}])
    rows = list(db.jobs.aggregate([{"$group": {"_id": {"t": "$tenant", "s": "$status"}, "n": {"$sum": 1}}}]))
    assert len(rows) == 1 and rows[0]["n"] == 2  # MongoDB: two groups
    per_tenant = list(db.jobs.aggregate([{"$match": {"tenant": eq("a")}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]))
    assert per_tenant == [{"_id": "sent", "n": 1}]


def test_an_upsert_increment_of_a_dotted_path_makes_a_dotted_key_so_counters_are_flat_fields(db):
    db.counters.update_one({"_id": "x"}, {"$inc": {"counts.sent": 1}}, upsert=True)
    assert db.counters.find_one({"_id": "x"}) == {"_id": "x", "counts.sent": 1}  # MongoDB: {"counts": {"sent": 1}}


def test_an_update_filter_of_ne_misses_a_missing_field_so_unredacted_is_written_as_in_0_none(db):
    _id = db.jobs.insert_one({"status": "sent"}).inserted_id  # a job with its own window: no `redacted` yet
    assert db.jobs.find_one({"_id": _id, "redacted": {"$ne": 1}}) is not None
    assert db.jobs.update_one({"_id": _id, "redacted": {"$ne": 1}}, {"$set": {"x": 1}}).matched_count == 0  # MongoDB: 1
    assert db.jobs.update_one({"_id": _id, "redacted": {"$in": [0, None]}}, {"$set": {"x": 1}}).matched_count == 1
