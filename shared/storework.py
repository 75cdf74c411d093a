"""What the store is asked to do: commands, and the documents they wrote and read, counted
through pymongo's command monitoring on every client the services open.

Documents, not commands, are the cost a store pays per job (one bulk write of fifty updates
is fifty documents written), so both are kept: per database and collection here, for tests and
the benchmark; per collection as Prometheus counters, for operators.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter as PromCounter
from pymongo import monitoring

COMMANDS = PromCounter("wavecom_store_commands", "Commands sent to the store, by command.", ["command"])
DOCUMENTS = PromCounter(
    "wavecom_store_documents",
    "Documents the store wrote (inserted, modified, upserted, deleted) or returned, by collection.",
    ["collection", "op"],
)
WRITES = frozenset({"insert", "update", "delete", "findAndModify"})
READS = frozenset({"find", "getMore", "aggregate", "findAndModify"})
_MONITORED = WRITES | READS


@dataclass(frozen=True)
class Work:
    """Counts of store work: commands by name and by collection, documents written and read by
    collection."""

    commands: Counter[str]
    written: Counter[str]
    read: Counter[str]
    on: Counter[str] = field(default_factory=Counter)  # commands by collection

    def __sub__(self, earlier: Work) -> Work:
        return Work(self.commands - earlier.commands, self.written - earlier.written, self.read - earlier.read,
                    self.on - earlier.on)


def _documents(name: str, reply: dict[str, Any]) -> tuple[int, int]:
    """(written, read) documents of one successful command's reply."""
    if name in ("insert", "delete"):
        return int(reply.get("n", 0)), 0
    if name == "update":
        return int(reply.get("nModified", 0)) + len(reply.get("upserted") or []), 0
    if name == "findAndModify":
        found = reply.get("value") is not None
        return int((reply.get("lastErrorObject") or {}).get("n", 0)), int(found)
    batch = (reply.get("cursor") or {}).get("firstBatch" if name != "getMore" else "nextBatch") or []
    return 0, len(batch)


class StoreWork(monitoring.CommandListener):
    """Counts commands and documents per (database, collection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[tuple[Any, int], tuple[str, str]] = {}  # (server, request id) -> where
        self._work: dict[str, Work] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Remember which collection a command is about."""
        if event.command_name in _MONITORED:
            collection = event.command.get(event.command_name)
            if event.command_name == "getMore":
                collection = event.command.get("collection")
            with self._lock:
                self._targets[(event.connection_id, event.request_id)] = (event.database_name, str(collection))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Count the command and its documents."""
        COMMANDS.labels(event.command_name).inc()
        if event.command_name not in _MONITORED:
            return
        written, read = _documents(event.command_name, dict(event.reply))
        with self._lock:
            database, collection = self._targets.pop((event.connection_id, event.request_id), ("", ""))
            work = self._work.setdefault(database, Work(Counter(), Counter(), Counter()))
            work.commands[event.command_name] += 1
            work.on[collection] += 1
            work.written[collection] += written
            work.read[collection] += read
        if written:
            DOCUMENTS.labels(collection, "written").inc(written)
        if read:
            DOCUMENTS.labels(collection, "read").inc(read)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Count the command; it moved no documents."""
        COMMANDS.labels(event.command_name).inc()
        with self._lock:
            self._targets.pop((event.connection_id, event.request_id), None)

    def snapshot(self, database: str) -> Work:
        """The work done so far in `database` (a copy)."""
        with self._lock:
            work = self._work.get(database, Work(Counter(), Counter(), Counter()))
            return Work(Counter(work.commands), Counter(work.written), Counter(work.read), Counter(work.on))


STORE_WORK = StoreWork()
