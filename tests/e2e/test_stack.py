"""`wavecom up` as a user runs it: real processes, real sockets, a clean stop."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.processes import WAVECOM, Stack, stack, with_marker


@pytest.fixture
def up(tmp_path: Path, broker_url: str) -> Iterator[Stack]:
    """`wavecom up` in a temporary directory, with its own port, queue and embedded store."""
    with stack([WAVECOM, "up"], tmp_path, broker_url) as running:
        yield running


def test_the_stack_delivers_over_http_and_stops_everything_on_sigterm(up: Stack) -> None:
    api = up.client()
    assert api.get("/api/notifications", headers={"Authorization": ""}).status_code == 401
    created = api.post(
        "/api/notifications",
        json={"type": "sms", "recipient": "+2347031234567", "message": "Your code is 884422"},
    )
    assert created.status_code == 201
    job_id = created.json()["id"]
    wait_for(lambda: api.get(f"/api/notifications/{job_id}").json()["status"] == "sent", what="sent")
    retried = api.post(
        "/api/notifications",
        json={"type": "email", "recipient": "alice@example.com", "message": "Hi", "metadata": {"mockFailures": 1}},
    ).json()["id"]
    job = wait_for(
        lambda: (j := api.get(f"/api/notifications/{retried}").json())["status"] == "sent" and j, what="retry"
    )
    assert job["attempts"] == 2
    assert (up.workdir / "data" / "store").is_dir()  # the embedded store keeps its files there

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(timeout=30) == 0
    output = up.output()
    assert "+2347031234567" not in output and "884422" not in output  # no personal data in logs
    wait_for(lambda: not with_marker(up.queue), timeout=20, what="every child process to exit")


def test_data_survives_a_restart_of_the_stack(up: Stack, broker_url: str) -> None:
    api = up.client()
    job_id = api.post(
        "/api/notifications", json={"type": "push", "recipient": "device-token-1", "message": "Parcel"}
    ).json()["id"]
    wait_for(lambda: api.get(f"/api/notifications/{job_id}").json()["status"] == "sent", what="sent")
    up.proc.send_signal(signal.SIGTERM)
    up.proc.wait(timeout=30)
    wait_for(lambda: not with_marker(up.queue), timeout=20, what="the first stack to stop")

    with stack([WAVECOM, "up"], up.workdir, broker_url, WAVECOM_QUEUE=up.queue) as again:
        fetched = httpx.get(f"{again.base}/api/notifications/{job_id}", timeout=10, headers=api.headers)
        assert fetched.status_code == 200 and fetched.json()["status"] == "sent"
