"""`wavecom up` as a user runs it: real processes, real sockets, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.embedded_store import free_port
from tests.conftest import delete_queues, unique, wait_for

WAVECOM = str(Path(sys.executable).with_name("wavecom"))


def processes_with(marker: str) -> list[int]:
    """PIDs whose environment carries `marker` (the stack's unique queue name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def stack(tmp_path, broker_url):
    """`wavecom up` in a temporary directory, with its own port, queue and embedded store."""
    port, queue = free_port(), unique("e2e-jobs")
    env = {
        **os.environ,
        "WAVECOM_PORT": str(port),
        "WAVECOM_QUEUE": queue,
        "WAVECOM_DATA_DIR": str(tmp_path / "data"),
        "WAVECOM_MOCK_FAILURE_RATE": "0",
        "WAVECOM_RETRY_BASE_MS": "200",
        "RABBITMQ_URL": broker_url,
    }
    env.pop("MONGODB_URI", None)
    env.pop("WAVECOM_BOOTSTRAP_KEY", None)  # `wavecom up` makes one and keeps it in the data dir
    proc = subprocess.Popen([WAVECOM, "up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None and pytest.fail(proc.stdout.read().decode()[-3000:])

    try:
        wait_for(healthy, timeout=60, interval=0.2, what="the stack to answer /health")
        key = (tmp_path / "data" / "bootstrap-key").read_text().strip()
        yield proc, httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}), queue, tmp_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for pid in processes_with(queue):
            os.kill(pid, signal.SIGKILL)
        delete_queues(broker_url, [queue, f"{queue}.dead", f"{queue}.retry.200", f"{queue}.retry.400"])


def test_the_stack_delivers_over_http_and_stops_everything_on_sigterm(stack):
    proc, api, queue, workdir = stack
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
    assert (workdir / "data" / "store").is_dir()  # the embedded store keeps its files there

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    output = proc.stdout.read().decode()
    assert "+2347031234567" not in output and "884422" not in output  # no personal data in logs
    wait_for(lambda: not processes_with(queue), timeout=20, what="every child process to exit")


def test_data_survives_a_restart_of_the_stack(tmp_path, broker_url, stack):
    proc, api, queue, workdir = stack
    job_id = api.post(
        "/api/notifications", json={"type": "push", "recipient": "device-token-1", "message": "Parcel"}
    ).json()["id"]
    wait_for(lambda: api.get(f"/api/notifications/{job_id}").json()["status"] == "sent", what="sent")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    wait_for(lambda: not processes_with(queue), timeout=20, what="the first stack to stop")

    port = free_port()
    env = {**os.environ, "WAVECOM_PORT": str(port), "WAVECOM_QUEUE": queue,
           "WAVECOM_DATA_DIR": str(workdir / "data"), "RABBITMQ_URL": broker_url}
    env.pop("MONGODB_URI", None)
    again = subprocess.Popen([WAVECOM, "up"], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base2 = f"http://127.0.0.1:{port}"

        def fetched():
            try:
                return httpx.get(f"{base2}/api/notifications/{job_id}", timeout=1, headers=api.headers).json()
            except httpx.HTTPError:
                return None

        job = wait_for(fetched, timeout=60, interval=0.2, what="the restarted stack")
        assert job["status"] == "sent"
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=30)
