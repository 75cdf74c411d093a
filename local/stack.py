"""Finding the store of a running stack from another process (`wavecom keys`, `bench`, ...).

The precedence is MONGODB_URI, then the embedded store that `wavecom up` (or `wavecom store`)
serves for WAVECOM_DATA_DIR, then the documented default. The embedded store listens on a port
chosen at start-up, which nothing publishes: on Linux its command line in /proc names its data
directory and port.
"""

from __future__ import annotations

from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from local import embedded_store, procs
from shared.config import Settings

# How long a command waits for the store to answer before it says what to do instead.
PROBE_SECONDS = 2.0


class StoreNotFound(Exception):
    """No store answers where the settings point; the message says what to do."""


def embedded_store_uri(data_dir: Path) -> str | None:
    """The URI of a running embedded store serving `data_dir` (as `wavecom up` starts it)."""
    wanted = str(data_dir.resolve() / "store")
    for argv in (p.argv for p in procs.processes()):
        if not ("local.store_main" in argv and "--data-dir" in argv[:-1] and "--port" in argv[:-1]):
            continue
        port = argv[argv.index("--port") + 1]
        if argv[argv.index("--data-dir") + 1] == wanted and port.isascii() and port.isdigit():
            host = argv[argv.index("--host") + 1] if "--host" in argv[:-1] else "127.0.0.1"
            return embedded_store.uri(int(port), host)
    return None


def with_store(settings: Settings) -> Settings:
    """`settings` pointing at MONGODB_URI, else the running embedded store of WAVECOM_DATA_DIR,
    else the default URI."""
    if settings.mongodb_uri_set:
        return settings
    found = embedded_store_uri(settings.data_dir)
    return settings.with_overrides(mongodb_uri=found, mongodb_uri_set=True) if found else settings


def _answers(uri: str, timeout: float) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def require_store(settings: Settings, timeout: float = PROBE_SECONDS) -> Settings:
    """`with_store(settings)` once its store answers a ping; StoreNotFound within `timeout` if
    it does not, saying what to do (the URI is never printed when it came from MONGODB_URI: it
    may hold a password)."""
    found = with_store(settings)
    if _answers(found.mongodb_uri, timeout):
        return found
    if settings.mongodb_uri_set:
        raise StoreNotFound("the store at MONGODB_URI does not answer: start it, or set MONGODB_URI to one that runs")
    if found.mongodb_uri_set:
        raise StoreNotFound(f"the embedded store serving {settings.data_dir}/ ({found.mongodb_uri}) does not answer: "
                            "stop the stack and start it again with `make run`")
    raise StoreNotFound(
        f"no store answers: MONGODB_URI is unset, no embedded store serves {settings.data_dir}/ and nothing "
        f"listens at {settings.mongodb_uri}; start the stack here with `make run` (or `wavecom store`), "
        "or set MONGODB_URI"
    )
