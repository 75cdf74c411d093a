"""Where the embedded store differs from MongoDB, recorded so the code's choices stay explained.

Each test states the gap as the embedded store shows it today and the portable form the code
uses instead. If one starts failing, the store closed the gap: the workaround can go.
"""

from datetime import UTC, datetime

import pytest
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import WriteError

from shared.mongo import connect


@pytest.fixture
def db(store_uri):
    name = f"gaps_{ObjectId()}"
    database = connect(store_uri, name)
    yield database
    database.client.drop_database(name)
    database.client.close()


def test_equality_on_an_objectid_outside_id_does_not_match_so_job_refs_use_in(db):
    oid = ObjectId()
    db.logs.insert_one({"jobId": oid})
    assert db.logs.count_documents({"jobId": oid}) == 0  # MongoDB: 1
    assert db.logs.count_documents({"jobId": {"$in": [oid, str(oid)]}}) == 1


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
    t = datetime(2026, 11, 24, 14, 50, 18, 100000, tzinfo=UTC)
    db.jobs.insert_one({"updatedAt": t})
    almost = t.replace(microsecond=999000)
    assert db.jobs.count_documents({"updatedAt": {"$lt": almost}}) == 1
    assert list(db.jobs.find({"updatedAt": {"$lt": almost}})) == []  # MongoDB: the document
    assert len(list(db.jobs.find({"updatedAt": {"$lt": t.replace(second=19, microsecond=0)}}))) == 1
