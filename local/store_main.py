"""Runs the nx-27017 server quietly: its INFO log prints whole commands, documents included,
and those carry personal data (recipients, message bodies)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from types import FrameType

from neosqlite.options import JournalMode
from nx_27017.daemon import run_server_sync


def _exit(signum: int, frame: FrameType | None) -> None:
    # Every acknowledged write is already committed to SQLite; leave without unwinding the
    # server's event loop, which only prints cancelled-task noise.
    logging.shutdown()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve a data directory on a loopback port until SIGTERM or SIGINT."""
    p = argparse.ArgumentParser(prog="wavecom-store")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    # ERROR, not WARNING: its warnings print whole queries, which may hold recipients.
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s store %(message)s")
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    run_server_sync(
        argparse.Namespace(
            db_path=args.data_dir,
            data_dir=args.data_dir,
            single_db_compat=False,
            host=args.host,
            port=args.port,
            journal_mode=JournalMode.validate("WAL"),
            fts5_tokenizers=None,
            threaded=False,
        )
    )


if __name__ == "__main__":
    main()
