"""The image's roles as a container runs them: `wavecom <role>` as PID 1 of its own PID namespace
(what an exec-form ENTRYPOINT gives), probed by the image's health check and stopped by SIGTERM.

PID 1 gets no signal it has no handler for, so SIGTERM stops a container's process only if the
process handles it; Docker sends SIGKILL after the grace period otherwise. No Docker engine is
needed: `unshare --pid --fork --mount-proc` makes the namespace and `nsenter` runs the health
check inside it, as `docker exec` would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.embedded_store import free_port
from tests.conftest import process_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
WAVECOM = str(Path(sys.executable).with_name("wavecom"))
HEALTHCHECK = [sys.executable, str(ROOT / "infra" / "healthcheck.py")]
# A new PID namespace with its own /proc; --kill-child ends it if the test ends unshare.
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def _namespaces_available() -> bool:
    try:
        run = subprocess.run([*UNSHARE, "true"], check=False, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _namespaces_available(), reason="PID namespaces (unshare --pid) are not permitted here"),
]


def handles(pid: int, signum: int) -> bool:
    """Whether process `pid` has installed a handler for `signum` (SigCgt in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def namespace_pids(pid: int) -> list[int]:
    """The ids of `pid` in each PID namespace it is in, outermost first (NSpid in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return [int(n) for n in line.split()[1:]]
    return []


@pytest.fixture
def role_env(store_uri: str, broker_url: str) -> Iterator[dict[str, str]]:
    """The environment of one container of a stack of this test's own."""
    with process_env(store_uri, broker_url, "roles", WAVECOM_PORT=str(free_port()),
                     WAVECOM_METRICS_PORT=str(free_port()),
                     WAVECOM_BOOTSTRAP_KEY="wck_roles-" + os.urandom(8).hex()) as env:
        yield env


@pytest.mark.parametrize("role", ["api", "worker", "sweeper"])
def test_each_role_runs_as_pid_1_passes_its_healthcheck_and_stops_on_sigterm(
    role: str, role_env: dict[str, str], tmp_path: Path
) -> None:
    log = (tmp_path / f"{role}.log").open("wb")
    outer = subprocess.Popen([*UNSHARE, WAVECOM, role],
                             env=role_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    init = 0
    try:
        def started() -> int:
            assert outer.poll() is None, (tmp_path / f"{role}.log").read_text()[-2000:]
            found = Path(f"/proc/{outer.pid}/task/{outer.pid}/children").read_text().split()
            return int(found[0]) if found else 0

        init = wait_for(started, timeout=10, what=f"wavecom {role} to start")
        assert namespace_pids(init)[-1] == 1  # PID 1 in its namespace, as in a container
        wait_for(lambda: handles(init, signal.SIGTERM), timeout=60, interval=0.1, what=f"{role} to handle SIGTERM")

        def healthy() -> bool:
            probe = subprocess.run(["nsenter", "--target", str(init), "--pid", "--mount", *HEALTHCHECK],
                                   check=False, env=role_env, capture_output=True, timeout=10)
            return probe.returncode == 0

        wait_for(healthy, timeout=60, interval=0.2, what=f"the health check of {role}")

        os.kill(init, signal.SIGTERM)  # from outside the namespace, as `docker stop` sends it
        assert outer.wait(timeout=30) == 0, (tmp_path / f"{role}.log").read_text()[-2000:]
    finally:
        if outer.poll() is None:
            if init:
                os.kill(init, signal.SIGKILL)  # PID 1 gone: the kernel ends the whole namespace
            outer.kill()
            outer.wait()
        log.close()


def test_the_healthcheck_fails_inside_the_namespace_once_the_api_is_not_answering(
    role_env: dict[str, str], tmp_path: Path
) -> None:
    # An API port nobody serves: the role is `api`, so the check must say unhealthy.
    env = {**role_env, "WAVECOM_PORT": str(free_port())}
    outer = subprocess.Popen([*UNSHARE, "sh", "-c", "sleep 30", "api"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def started() -> int:
            found = Path(f"/proc/{outer.pid}/task/{outer.pid}/children").read_text().split()
            return int(found[0]) if found else 0

        init = wait_for(started, timeout=10, what="the namespace")
        probe = subprocess.run(["nsenter", "--target", str(init), "--pid", "--mount", *HEALTHCHECK],
                               check=False, env=env, capture_output=True, text=True, timeout=10)
        assert probe.returncode == 1 and "/health" in probe.stderr
    finally:
        outer.kill()
        outer.wait()


@pytest.mark.parametrize("role", ["api", "worker"])
def test_a_role_still_waiting_for_its_store_stops_on_sigterm_as_pid_1(
    role: str, role_env: dict[str, str], tmp_path: Path
) -> None:
    # A store nobody serves: the role waits up to a minute for it, and must stop when asked.
    env = {**role_env, "MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200"}
    outer = subprocess.Popen([*UNSHARE, WAVECOM, role],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    init = 0
    try:
        def started() -> int:
            found = Path(f"/proc/{outer.pid}/task/{outer.pid}/children").read_text().split()
            return int(found[0]) if found else 0

        init = wait_for(started, timeout=10, what=f"wavecom {role} to start")
        wait_for(lambda: handles(init, signal.SIGTERM), timeout=30, interval=0.05, what=f"{role} to handle SIGTERM")
        os.kill(init, signal.SIGTERM)
        assert outer.wait(timeout=15) == 128 + signal.SIGTERM
    finally:
        if outer.poll() is None:
            if init:
                os.kill(init, signal.SIGKILL)
            outer.kill()
            outer.wait()
