"""The MongoDB connection: made lazily, reused for the process's life, errors translated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern

from shared.errors import Duplicate, StoreError, StoreUnavailable
from shared.storework import STORE_WORK

# Acknowledged by a majority and journaled: an accepted job survives a store crash and, on a
# replica set, the loss of the primary. (The embedded store maps j=true to a synchronous SQLite
# commit and accepts w=majority as w=1.)
WRITE_CONCERN = WriteConcern(w="majority", j=True)


def connect(uri: str, db_name: str, timeout_ms: int = 5000) -> Database[dict[str, object]]:
    """A database handle; pymongo connects lazily on first use and pools connections."""
    client: MongoClient[dict[str, object]] = MongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # A store that hangs (rather than refuses) must not hang a request forever.
        socketTimeoutMS=timeout_ms * 6,
        retryWrites=True,
        event_listeners=[STORE_WORK],  # store work per job: tests, the benchmark, /metrics
    )
    return client.get_database(db_name, write_concern=WRITE_CONCERN)


@contextmanager
def translated() -> Iterator[None]:
    """Turn pymongo's exceptions into the library's own."""
    try:
        yield
    except DuplicateKeyError as e:
        raise Duplicate("a document with this key exists") from e
    except ConnectionFailure as e:
        raise StoreUnavailable(f"MongoDB is unreachable: {type(e).__name__}") from e
    except PyMongoError as e:
        raise StoreError(f"MongoDB refused the operation: {type(e).__name__}") from e
