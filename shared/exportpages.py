"""Pages of the export (`GET /api/notifications/export`): a tenant's jobs as NDJSON, newest first,
at most EXPORT_PAGE lines and EXPORT_BYTES a page, so a page of long e-mails still fits Lambda's
6 MB response (and API Gateway's 10 MB).

Lambda returns the body as a JSON string, where every quote, backslash and escaped character of
the NDJSON takes more room, so a line is counted as that string holds it. A page always holds at
least one line, and jobs are read from the store a chunk at a time, so a page of short jobs is a
few reads and a page of long ones never holds more than its budget in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from shared.clock import epoch_ms_of
from shared.model import Job
from shared.store import JobStore

EXPORT_PAGE = 1000  # lines a page holds at most
EXPORT_BYTES = 5 * 1024 * 1024  # a page's body as Lambda's response holds it: under 6 MB with the rest
CHUNK = 100  # jobs read from the store at a time


@dataclass(frozen=True)
class ExportPage:
    """One page: its NDJSON lines, and the cursor of the next page when there is one."""

    lines: list[str]
    next_after: tuple[int, str] | None  # (createdAtMs, id) of the last job of this page


def _newest_first(jobs: JobStore, tenant: str, after: tuple[int, str] | None, since_ms: int | None) -> Iterator[Job]:
    while True:
        chunk = jobs.page(tenant, {}, CHUNK, after=after, since_ms=since_ms)
        yield from chunk
        if len(chunk) < CHUNK:
            return
        after = (epoch_ms_of(chunk[-1].created_at), chunk[-1].id)


def line_of(job: Job) -> str:
    """A job's line of the export."""
    return json.dumps(job.to_json(), separators=(",", ":")) + "\n"


def envelope_size(line: str) -> int:
    """The room a line takes in the JSON string of Lambda's response."""
    return len(json.dumps(line)) - 2


def export_page(jobs: JobStore, tenant: str, after: tuple[int, str] | None, since_ms: int | None) -> ExportPage:
    """The page of the tenant's jobs created after the cursor `after` (and at or after
    `since_ms`)."""
    lines: list[str] = []
    size, last = 0, after
    for job in _newest_first(jobs, tenant, after, since_ms):
        line = line_of(job)
        cost = envelope_size(line)
        if len(lines) == EXPORT_PAGE or (lines and size + cost > EXPORT_BYTES):
            return ExportPage(lines, last)
        lines.append(line)
        size, last = size + cost, (epoch_ms_of(job.created_at), job.id)
    return ExportPage(lines, None)
