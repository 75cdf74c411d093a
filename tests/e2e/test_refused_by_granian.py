"""Requests Granian refuses before the API sees them, as the README's table of refused requests
says: sent as raw bytes to a real `wavecom api`, each gets its status with no body at all."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from local.embedded_store import free_port
from tests.conftest import process_env, wait_for
from tests.e2e.processes import ROOT, WAVECOM, running

pytestmark = pytest.mark.slow
# The README row's words -> a request that has that fault, and the status Granian gives it.
REFUSED = {
    "a control character in a header value": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\n\r\n", 400),
    "a header name with a space in it": (b"GET /health HTTP/1.1\r\nHost: x\r\nX Note: a\r\n\r\n", 400),
    "a request line or method that is not HTTP": (b"G(T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "a space or NUL in the path": (b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "an HTTP version other than 1.0 and 1.1": (b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n", 400),
    "a `Content-Length` that is not a number": (
        b"POST /api/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    "or two that differ": (
        b"POST /api/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    "a `Transfer-Encoding` other than `chunked`": (
        b"POST /api/notifications HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    "request headers of more than 512 KB together": (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600_000 + b"\r\n\r\n", 431),
}


def exchange(port: int, raw: bytes) -> bytes:
    """Send `raw` on a fresh connection and read the answer until the server closes it (Granian
    closes after such an answer; other requests say `Connection: close`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass  # it may close before it has read everything; its answer is still there
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


@pytest.fixture(scope="module")
def api_port(store_uri: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real `wavecom api` on a port of its own."""
    port = free_port()
    with process_env(store_uri, broker_url, "granian", WAVECOM_PORT=str(port)) as env, \
            running([WAVECOM, "api"], env, tmp_path_factory.mktemp("granian") / "api.log"):
        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, interval=0.2, what="the API")
        yield port


@pytest.mark.parametrize("fault", list(REFUSED))
def test_granian_refuses_a_malformed_request_with_no_body_as_the_readme_says(api_port: int, fault: str) -> None:
    raw, status = REFUSED[fault]
    head, _, body = exchange(api_port, raw).partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:100]
    assert body == b"" and b"content-type" not in head.lower()
    rows = [line for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("|") and line.rstrip().endswith("| Granian |")]
    row = next((r for r in rows if fault in r), None)
    assert row is not None, f"README's table of refused requests has no Granian row for: {fault}"
    assert f"`{status}`, empty body" in row


def test_a_malformed_body_the_parser_lets_through_gets_the_api_s_problem(api_port: int) -> None:
    raw = (b"POST /api/notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1\r\n"
           b"Connection: close\r\n\r\n{")
    head, _, body = exchange(api_port, raw).partition(b"\r\n\r\n")
    assert re.match(rb"HTTP/1.1 (400|401) ", head) and b"application/problem+json" in head and body
