"""A webhook receiver of the bench's own, on loopback: it counts each delivery and answers it
after a set time (5,000 ms: a receiver that hangs until the sender's timeout)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class HookSink:
    """Answers every POST with 200 after `answer_ms`; `received` counts them."""

    def __init__(self, answer_ms: int) -> None:
        self.answer_ms = answer_ms
        self.received = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink._lock:
                    sink.received += 1
                time.sleep(sink.answer_ms / 1000)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/bench-hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-hook-sink", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
