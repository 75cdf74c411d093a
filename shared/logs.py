"""Structured JSON logging. Fields name the job id and a masked recipient, never a body."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure(level: str = "INFO") -> None:
    """Send JSON log lines to stderr (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_wavecom", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
    )
    handler._wavecom = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # pika logs every failed connection attempt at ERROR with a trace; our adapters log one
    # warning line instead.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
