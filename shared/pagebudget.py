"""How much of a page fits one response: the listing and the export stop a page early rather than
answer more than Lambda's 6 MB response (API Gateway's limit is 10 MB).

Lambda returns the body as a JSON string, where every quote, backslash and escaped character of
the JSON takes more room, so an item is counted as that string holds it: a page is at most
PAGE_BYTES of it. A page always holds at least its first item (one job is far below the limit).
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


def envelope_size(text: str) -> int:
    """The room a text takes in the JSON string of Lambda's response."""
    return len(json.dumps(text)) - 2


def fitted(items: Iterable[T], render: Callable[[T], str], most: int) -> Fitted[T]:
    """The first items, rendered, up to `most` of them and PAGE_BYTES together; `items` is read
    only as far as that (one past, to tell whether there are more)."""
    texts: list[str] = []
    size, last = 0, None
    for item in items:
        text = render(item)
        cost = envelope_size(text) + 1  # and its separator
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
