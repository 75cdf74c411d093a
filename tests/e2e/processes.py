"""Starting `wavecom` processes for a test, each in a session of its own, ended by its id."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from local.embedded_store import free_port
from tests.conftest import delete_stack_queues, unique, wait_for

ROOT = Path(__file__).resolve().parents[2]
WAVECOM = str(Path(sys.executable).with_name("wavecom"))


def with_marker(marker: str) -> list[int]:
    """PIDs whose environment carries `marker` (a stack's unique queue name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def refuses(port: int) -> bool:
    """Whether nothing listens on the loopback `port` (any more)."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL to the whole session's group when it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # and whatever it started and left behind
    proc.wait()


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` in a new session, output to `log`; stopped (its group killed if need be) afterwards."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        stop(proc)


@dataclass
class Stack:
    """A whole stack started as a person starts it (`wavecom up` or `make run`) in a directory."""

    proc: subprocess.Popen[bytes]
    base: str
    key: str
    queue: str
    workdir: Path
    log: Path

    def client(self) -> httpx.Client:
        """An API client holding the key `wavecom up` made for tenant `default`."""
        return httpx.Client(base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.key}"})

    def output(self) -> str:
        """What the stack printed so far."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def stack(argv: list[str], workdir: Path, broker_url: str, **extra: str) -> Iterator[Stack]:
    """Run `argv` (which starts a whole stack) in `workdir` with a port, queue and embedded store of
    its own; wait until it answers; afterwards stop it and end anything of it still running."""
    port, queue = free_port(), extra.pop("WAVECOM_QUEUE", "") or unique("e2e-jobs")
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "WAVECOM_BOOTSTRAP_KEY")}
    env.update({"WAVECOM_PORT": str(port), "WAVECOM_QUEUE": queue, "WAVECOM_DATA_DIR": str(workdir / "data"),
                "WAVECOM_MOCK_FAILURE_RATE": "0", "WAVECOM_RETRY_BASE_MS": "200", "RABBITMQ_URL": broker_url,
                "WAVECOM_METRICS_PORT": "0", **extra})
    base, log = f"http://127.0.0.1:{port}", workdir / "stack.log"
    try:
        with running(argv, env, log, cwd=workdir) as proc:
            def healthy() -> bool:
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                try:
                    return httpx.get(f"{base}/health", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, timeout=60, interval=0.2, what="the stack to answer /health")
            key = (Path(env["WAVECOM_DATA_DIR"]) / "bootstrap-key").read_text().strip()
            yield Stack(proc, base, key, queue, workdir, log)
    finally:
        for pid in with_marker(queue):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        delete_stack_queues(broker_url, queue)
