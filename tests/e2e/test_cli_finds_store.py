"""Commands run beside a stack find its store as a person runs them: in the stack's directory,
with MONGODB_URI unset, or told where it is; and when no store answers they say what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from local import embedded_store
from local.embedded_store import free_port
from local.stack import embedded_store_uri
from tests.conftest import unique, wait_for
from tests.e2e.processes import WAVECOM, running

pytestmark = pytest.mark.slow


def env_without_store(**extra: str) -> dict[str, str]:
    """The environment of a shell where nobody set MONGODB_URI."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "WAVECOM_BOOTSTRAP_KEY")}
    return {**env, "WAVECOM_METRICS_PORT": "0", **extra}


def wavecom(*args: str, env: dict[str, str], cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a `wavecom` command to its end."""
    return subprocess.run([WAVECOM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def store_alone(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`wavecom store` serving ./.wavecom of a working directory, as for running the others apart."""
    data = tmp_path / ".wavecom"
    with running([WAVECOM, "store", "--data-dir", str(data)], env_without_store(), tmp_path / "store.log",
                 cwd=tmp_path):
        uri = wait_for(lambda: embedded_store_uri(data), timeout=30, what="the store's process")
        embedded_store.wait_ready(uri, timeout=60)
        yield tmp_path, uri


def test_keys_find_the_embedded_store_of_the_working_directory(store_alone: tuple[Path, str]) -> None:
    workdir, uri = store_alone
    env = env_without_store(MONGODB_DB=unique("keys").replace("-", "_"))
    created = wavecom("keys", "create", "--tenant", "acme-bank", env=env, cwd=workdir)
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.split("key id ")[1].split(".")[0]
    listed = wavecom("keys", "list", env=env, cwd=workdir)
    assert listed.returncode == 0 and f"{key_id}  acme-bank  active" in listed.stdout
    # It went to the embedded store of this directory, not to the default URI.
    assert MongoClient(uri)[env["MONGODB_DB"]]["apikeys"].count_documents({"keyId": key_id}) == 1


def test_mongodb_uri_comes_before_a_running_embedded_store(store_alone: tuple[Path, str], store_uri: str) -> None:
    workdir, embedded = store_alone
    db = unique("keys").replace("-", "_")
    created = wavecom("keys", "create", "--tenant", "acme-bank", env=env_without_store(MONGODB_URI=store_uri,
                                                                                      MONGODB_DB=db), cwd=workdir)
    assert created.returncode == 0, created.stderr
    assert MongoClient(store_uri)[db]["apikeys"].count_documents({}) == 1
    assert MongoClient(embedded)[db]["apikeys"].count_documents({}) == 0
    MongoClient(store_uri).drop_database(db)


def test_a_service_started_beside_the_store_finds_it(store_alone: tuple[Path, str], broker_url: str) -> None:
    workdir, _ = store_alone
    port = free_port()
    env = env_without_store(WAVECOM_PORT=str(port), RABBITMQ_URL=broker_url,
                            MONGODB_DB=unique("api").replace("-", "_"))
    with running([WAVECOM, "api"], env, workdir / "api.log", cwd=workdir) as api:
        def ready() -> bool:
            assert api.poll() is None, (workdir / "api.log").read_text()[-2000:]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=60, interval=0.2, what="the API to reach the store")


def test_with_no_store_a_command_says_what_to_do_within_5_seconds(tmp_path: Path) -> None:
    env = env_without_store(MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/")
    started = time.monotonic()
    run = wavecom("keys", "list", env=env, cwd=tmp_path)
    assert time.monotonic() - started < 5
    assert run.returncode == 1 and run.stdout == ""
    expected = "wavecom: the store at MONGODB_URI does not answer: start it, or set MONGODB_URI to one that runs"
    assert run.stderr.splitlines() == [expected]


def test_with_mongodb_uri_unset_and_nothing_running_the_default_is_tried_and_named(tmp_path: Path) -> None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 27017)) == 0:
            pytest.skip("something listens on the default store port here")
    started = time.monotonic()
    run = wavecom("keys", "create", "--tenant", "t", env=env_without_store(), cwd=tmp_path)
    assert time.monotonic() - started < 5
    (line,) = run.stderr.splitlines()
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert line.startswith("wavecom: no store answers") and "mongodb://127.0.0.1:27017/" in line
    assert "`make run`" in line and "MONGODB_URI" in line
