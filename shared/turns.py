"""Turns: work that one of several processes should do at a time, such as the sweeper's release
of scheduled jobs. A turn is one small document per kind of work in `sweepturns`, taken by a
compare-and-set on when it was last taken."""

from __future__ import annotations

from typing import Any

from pymongo.collection import Collection

from shared.clock import epoch_ms
from shared.errors import Duplicate
from shared.mongo import translated

Doc = dict[str, Any]
TURNS = "sweepturns"
SLACK = 0.9  # a turn comes round a little early, so a sweeper on its interval never misses it


class Turns:
    """The `sweepturns` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._c = collection

    def take(self, name: str, every_ms: int) -> bool:
        """Whether this caller does `name` now: the first to ask once `every_ms` passed since it
        was last done (of several asking at once, exactly one gets True)."""
        now = epoch_ms()
        with translated():
            if self._c.update_one({"_id": name, "atMs": {"$lte": now - int(every_ms * SLACK)}},
                                  {"$set": {"atMs": now}}).modified_count:
                return True
        try:
            with translated():
                self._c.insert_one({"_id": name, "atMs": now})
        except Duplicate:
            return False  # taken lately, by this caller or another
        return True
