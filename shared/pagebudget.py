"""How much of a page fits one response: the listing and the export stop a page early rather than
answer more than Lambda's 6 MB response (API Gateway's limit is 10 MB).

Lambda returns the body as a JSON string, where every quote and backslash of the JSON takes two
characters. The items are JSON as `json.dumps` writes it, ASCII only (anything else is already
escaped), so an item never takes more than twice its length there: a page stops once that bound
would pass PAGE_BYTES, without encoding anything twice. A page always holds at least its first
item (one job is far below the limit).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.clock import epoch_ms_of
from shared.model import Job
from shared.store import JobStore

T = TypeVar("T")
PAGE_BYTES = 5 * 1024 * 1024  # a page's body as Lambda's response holds it: under 6 MB with the rest
EXPORT_PAGE = 1000  # lines an export page holds at most
CHUNK = 100  # jobs the export reads from the store at a time


@dataclass(frozen=True)
class Fitted(Generic[T]):
    """The items of a page that fit, as text; the last of them; whether any was left out."""

    texts: list[str]
    last: T | None
    more: bool


def fitted(items: Iterable[T], render: Callable[[T], str], most: int) -> Fitted[T]:
    """The first items, rendered as ASCII JSON, up to `most` of them and PAGE_BYTES together; `items` is read
    only as far as that (one past, to tell whether there are more)."""
    texts: list[str] = []
    size, last = 0, None
    for item in items:
        text = render(item)
        cost = 2 * len(text) + 1  # at most, in Lambda's JSON string; and its separator
        if len(texts) == most or (texts and size + cost > PAGE_BYTES):
            return Fitted(texts, last, True)
        texts.append(text)
        size, last = size + cost, item
    return Fitted(texts, last, False)


def newest_first(jobs: JobStore, tenant: str, after: tuple[int, str] | None, since_ms: int | None) -> Iterator[Job]:
    """A tenant's jobs after the cursor `after` (and created at or after `since_ms`), newest
    first, read from the store CHUNK at a time: a page of long jobs holds no more than it shows."""
    while True:
        chunk = jobs.page(tenant, {}, CHUNK, after=after, since_ms=since_ms)
        yield from chunk
        if len(chunk) < CHUNK:
            return
        after = (epoch_ms_of(chunk[-1].created_at), chunk[-1].id)


def export_line(job: Job) -> str:
    """A job's line of the export (NDJSON)."""
    return json.dumps(job.to_json(), separators=(",", ":")) + "\n"
