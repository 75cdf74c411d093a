"""Structured JSON logging. Fields name the job id, a masked recipient and the request id, never
a body."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shared import context


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to each record logged while a request id is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only adds the field."""
        request_id = context.current()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def configure(level: str = "INFO") -> None:
    """Send JSON log lines to stderr (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_wavecom", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
    )
    # On the handler, not a logger: a logger's filters do not see records from its children.
    handler.addFilter(RequestIdFilter())
    handler._wavecom = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # pika logs every failed connection attempt at ERROR with a trace; our adapters log one
    # warning line instead.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    # pymongo logs each command whole at DEBUG, recipients and messages with it: never shown.
    logging.getLogger("pymongo").setLevel(logging.WARNING)
