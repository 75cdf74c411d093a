"""Ctrl-C in the terminal of `make run`: the terminal sends SIGINT to the whole process group
(make, `wavecom up`); the stack stops in order, API, worker, store, and leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from local.consumer import Consumer
from tests.conftest import wait_for
from tests.e2e.processes import ROOT, refuses, stack, with_marker

pytestmark = pytest.mark.slow
# `make run` as typed; -o: never reinstall here, whatever the stamp's age (`make test` made it).
MAKE_RUN = ["make", "-C", str(ROOT), "--no-print-directory", "-o", ".venv/.installed", "run"]
SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}


def keep_busy(client: httpx.Client, stop: threading.Event, limit: int = 2000) -> None:
    """What a dashboard and a client do: poll on a kept-alive connection and create jobs, until
    the stack goes away (bounded in count)."""
    for _ in range(limit):
        if stop.is_set():
            return
        try:
            client.get("/api/stats")
            client.post("/api/notifications", json=SMS)
        except httpx.HTTPError:
            return


def test_ctrl_c_stops_api_worker_and_store_in_order_within_the_drain_time(tmp_path: Path, broker_url: str) -> None:
    drain = Consumer.DRAIN_SECONDS
    # Slow providers, so the worker holds messages when the signal comes.
    with stack(MAKE_RUN, tmp_path, broker_url, WAVECOM_MOCK_LATENCY_MS="300") as s:
        store_port = int(re.search(r"embedded store on mongodb://127\.0\.0\.1:(\d+)/", s.output()).group(1))
        api_port = int(s.base.rsplit(":", 1)[1])
        stop_load = threading.Event()
        clients = [s.client() for _ in range(3)]
        load = [threading.Thread(target=keep_busy, args=(c, stop_load), daemon=True) for c in clients]
        for thread in load:
            thread.start()
        watcher = s.client()
        wait_for(lambda: any(j["status"] == "sending" for j in watcher.get("/api/notifications").json()),
                 timeout=30, what="the worker to hold jobs")
        assert len(with_marker(s.queue)) >= 4  # make, wavecom up, store, worker, API and Granian's worker

        started = time.monotonic()
        os.killpg(s.proc.pid, signal.SIGINT)  # as the terminal does: to the whole foreground group
        s.proc.wait(timeout=drain + 30)
        wait_for(lambda: not with_marker(s.queue), timeout=drain + 5, interval=0.05, what="every process to end")
        elapsed = time.monotonic() - started
        stop_load.set()
        for thread in load:
            thread.join(timeout=10)

        output = s.output()
        assert elapsed <= drain + 5, output[-3000:]
        assert refuses(api_port) and refuses(store_port)
        stopped = re.findall(r"^stopped (\w+) \(", output, re.MULTILINE)
        assert stopped == ["api", "webhooks", "worker", "store"], output[-3000:]
        assert "did not stop in time" not in output
        # The worker stored every outcome it finished: the store was still there.
        assert "outcome not stored" not in output and "unreachable" not in output
        assert "Python threads" not in output  # Granian's thread-count notice is explained, not printed
