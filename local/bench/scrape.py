"""Store work a process reports on its /metrics: commands, and documents written and read.

Every wavecom process counts what it asks of the store (shared/storework.py) and shows it as
`wavecom_store_commands_total{command}` and `wavecom_store_documents_total{collection, op}`.
The bench reads them before and after a run; their difference is that process's store work.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from shared.storework import Work

COMMANDS = "wavecom_store_commands_total"
DOCUMENTS = "wavecom_store_documents_total"
TIMEOUT_S = 5.0


def parse(text: str) -> Work:
    """The store work in a Prometheus text exposition (counters absent: none yet)."""
    commands: Counter[str] = Counter()
    written: Counter[str] = Counter()
    read: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == COMMANDS:
                commands[sample.labels["command"]] += int(sample.value)
            elif sample.name == DOCUMENTS:
                into = written if sample.labels.get("op") == "written" else read
                into[sample.labels["collection"]] += int(sample.value)
    return Work(commands, written, read)


def fetch(url: str) -> Work | None:
    """The store work `url` (a /metrics page) reports so far; None when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError, UnicodeDecodeError):
        return None
    try:
        return parse(text)
    except (ValueError, KeyError):  # not a Prometheus page after all
        return None
