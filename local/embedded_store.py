"""The embedded MongoDB-wire store (nx-27017, SQLite underneath) as a child process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def store_command(data_dir: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves `data_dir` (one SQLite file per database) on `port`."""
    return [
        sys.executable, "-m", "local.store_main",
        "--data-dir", str(data_dir.resolve() / "store"),
        "--host", host,
        "--port", str(port),
    ]


def uri(port: int, host: str = "127.0.0.1") -> str:
    """The MongoDB URI of the embedded store on `port`."""
    return f"mongodb://{host}:{port}/"


def wait_ready(mongodb_uri: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the store answers a ping, or raise TimeoutError."""
    client: MongoClient[dict[str, object]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=500)

    def ping() -> None:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the embedded store exited with code {proc.returncode}")
        client.admin.command("ping")

    try:
        Retrying(retry=retry_if_exception_type(PyMongoError), stop=stop_after_delay(timeout), wait=wait_fixed(0.1),
                 reraise=True)(ping)
    except PyMongoError:
        raise TimeoutError(f"the embedded store did not answer within {timeout:.0f}s") from None
    finally:
        client.close()


def start(data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], str]:
    """Start the store as a child process and wait until it answers; returns it and its URI."""
    (data_dir / "store").mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    # Its own session: a terminal's Ctrl-C is for whoever started it, who stops it last.
    proc = subprocess.Popen(store_command(data_dir, port, host), start_new_session=True)
    address = uri(port, host)
    try:
        wait_ready(address, proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, address
