"""The webhook sender against real HTTP servers on loopback, and each SSRF refusal."""

import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from shared.webhooksend import TargetRefused, check_target, new_secret, post, sign


@contextmanager
def server(handle):
    """A loopback HTTP server answering every POST with `handle(handler)`; its base URL."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append((self.path, dict(self.headers), body))
            handle(self)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def answer(status, body=b"ok", headers=()):
    def handle(h):
        h.send_response(status)
        for name, value in headers:
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return handle


def signed(secret, payload='{"type":"notification.sent"}'):
    return payload, sign(secret, "msg_1", datetime.now(UTC), payload)


def test_a_delivery_is_signed_so_the_receiver_verifies_it():
    secret = new_secret()
    payload, headers = signed(secret)
    with server(answer(200)) as (url, seen):
        result = post(url + "/hook", payload, headers, allow_private=True)
    assert result.ok and result.status_code == 200 and result.error is None and result.body == "ok"
    path, got, body = seen[0]
    assert path == "/hook" and got["Content-Type"] == "application/json"
    assert Webhook(secret).verify(body, got) == {"type": "notification.sent"}


def test_a_receiver_error_is_a_failed_attempt():
    with server(answer(500)) as (url, _):
        result = post(url, *signed(new_secret()), allow_private=True)
    assert not result.ok and result.status_code == 500 and result.error == "HTTP 500"


def test_a_redirect_is_refused_and_never_followed():
    with server(answer(302, headers=[("Location", "/elsewhere")])) as (url, seen):
        result = post(url + "/hook", *signed(new_secret()), allow_private=True)
    assert not result.ok and result.error == "redirect refused"
    assert [path for path, _, _ in seen] == ["/hook"]


def test_a_slow_receiver_times_out():
    def slow(h):
        time.sleep(2)
        answer(200)(h)

    with server(slow) as (url, _):
        started = time.monotonic()
        result = post(url, *signed(new_secret()), allow_private=True, timeout_s=0.5)
    assert result.status_code is None and "timed out" in result.error
    assert time.monotonic() - started < 1.9


def test_at_most_1_kb_of_the_answer_is_kept():
    with server(answer(200, b"x" * 5000)) as (url, _):
        result = post(url, *signed(new_secret()), allow_private=True)
    assert result.ok and result.body == "x" * 1024


def test_a_loopback_receiver_is_not_called_without_the_flag():
    with server(answer(200)) as (url, seen):
        result = post(url.replace("http:", "https:"), *signed(new_secret()), allow_private=False)
    assert result.status_code is None and result.error.startswith("refused") and seen == []


def test_a_rotated_out_secret_still_verifies_beside_the_new_one():
    old, new = new_secret(), new_secret()
    headers = sign(new, "msg_2", datetime.now(UTC), "{}", old_secret=old)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify("{}", headers)
    Webhook(old).verify("{}", headers)


def resolver(*addresses):
    def resolve(host, port, type=0):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, port)) for a in addresses]
    return resolve


@pytest.mark.parametrize("url, why", [
    ("http://hooks.example.com/x", "https"),
    ("https://127.0.0.1/x", "loopback"),
    ("https://[::1]/x", "loopback"),
    ("https://10.1.2.3/x", "private"),
    ("https://192.168.0.5/x", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[::ffff:127.0.0.1]/x", "loopback"),
    ("https://0.0.0.0/x", "unspecified"),
    ("https://user:pw@hooks.example.com/x", "user name"),
    ("ftp://hooks.example.com/x", "https"),
])
def test_each_unsafe_target_is_refused(url, why):
    with pytest.raises(TargetRefused, match=why):  # address literals resolve locally, without DNS
        check_target(url, allow_private=False)


def test_a_name_resolving_to_a_private_address_is_refused():
    with pytest.raises(TargetRefused, match="private"):
        check_target("https://hooks.example.com/x", allow_private=False, resolve=resolver("10.0.0.7"))


def test_a_name_with_one_public_and_one_private_address_is_refused():
    with pytest.raises(TargetRefused, match="loopback"):
        check_target("https://hooks.example.com/x", allow_private=False, resolve=resolver("93.184.215.14", "127.0.0.1"))


def test_a_name_that_does_not_resolve_is_refused():
    def nowhere(host, port, type=0):
        raise socket.gaierror("no such name")

    with pytest.raises(TargetRefused, match="does not resolve"):
        check_target("https://nowhere.invalid/x", allow_private=False, resolve=nowhere)


def test_public_addresses_are_allowed_and_the_flag_allows_private_ones():
    assert check_target("https://hooks.example.com/x", allow_private=False,
                        resolve=resolver("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")) == [
        "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert check_target("http://127.0.0.1:8080/x", allow_private=True) == ["127.0.0.1"]
