"""The webhook sender against real HTTP(S) servers on loopback, and each SSRF refusal."""

import base64
import datetime as dt
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from shared.webhooksend import TargetRefused, check_target, new_secret, post, sign

PAYLOAD = '{"type":"notification.sent","data":{"recipient":"+2348012345678","otp":"493817"}}'


@contextmanager
def server(handle):
    """A loopback HTTP server answering every POST with `handle(handler)`; its base URL and the
    (path, headers, body) of each request it got."""
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


def signed(secret, payload=PAYLOAD):
    return payload, sign(secret, "msg_1", dt.datetime.now(dt.UTC), payload)


def resolver(*addresses, calls=None):
    """A stand-in for socket.getaddrinfo answering with `addresses`, counting its calls."""
    def resolve(host, port, type=0):
        if calls is not None:
            calls.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, port)) for a in addresses]
    return resolve


def refused(url, match, **kwargs):
    with pytest.raises(TargetRefused, match=match) as e:  # address literals resolve locally, without DNS
        check_target(url, allow_private=False, **kwargs)
    return str(e.value)


def test_a_delivery_is_signed_so_the_receiver_verifies_it():
    secret = new_secret()
    payload, headers = signed(secret)
    with server(answer(200)) as (url, seen):
        result = post(url + "/hook?tenant=t1", payload, headers, allow_private=True)
    assert result.ok and result.status_code == 200 and result.error is None and result.body == "ok"
    path, got, body = seen[0]
    assert path == "/hook?tenant=t1" and got["Content-Type"] == "application/json"
    assert got["User-Agent"] == "WaveCom-Notify-Webhooks/1" and got["Host"] == url.removeprefix("http://")
    assert Webhook(secret).verify(body, got)["data"]["otp"] == "493817"


def test_a_receiver_error_is_a_failed_attempt():
    with server(answer(500)) as (url, _):
        result = post(url, *signed(new_secret()), allow_private=True)
    assert not result.ok and result.status_code == 500 and result.error == "HTTP 500"


def test_a_redirect_is_refused_and_never_followed():
    with server(answer(302, headers=[("Location", "/elsewhere")])) as (url, seen):
        result = post(url + "/hook", *signed(new_secret()), allow_private=True)
    assert not result.ok and result.status_code == 302 and result.error == "redirect refused"
    assert [path for path, _, _ in seen] == ["/hook"]


def test_a_slow_receiver_times_out():
    def slow(h):
        time.sleep(2)
        answer(200)(h)

    with server(slow) as (url, _):
        started = time.perf_counter()
        result = post(url, *signed(new_secret()), allow_private=True, timeout_s=0.5)
    assert result.status_code is None and "timed out" in result.error
    assert time.perf_counter() - started < 1.5 and result.duration_ms < 1500


def test_at_most_1_kb_of_the_answer_is_kept():
    with server(answer(200, b"x" * 5000)) as (url, _):
        result = post(url, *signed(new_secret()), allow_private=True)
    assert result.ok and result.body == "x" * 1024 and len(result.body.encode()) == 1024


def test_a_loopback_receiver_is_not_called_without_the_flag():
    with server(answer(200)) as (url, seen):
        result = post(url.replace("http:", "https:"), *signed(new_secret()), allow_private=False)
    assert result.status_code is None and result.error.startswith("refused") and "loopback" in result.error
    assert seen == []


def test_no_error_ever_carries_the_payload():
    errors = [post("https://127.0.0.1/x", PAYLOAD, {}, allow_private=False).error,
              post("https://nowhere.invalid/x", PAYLOAD, {}, allow_private=False,
                   resolve=resolver()).error]
    with server(answer(500, PAYLOAD.encode())) as (url, _):
        errors.append(post(url, PAYLOAD, {}, allow_private=True).error)
    assert all(errors) and not any("493817" in e or "2348012345678" in e for e in errors)


def test_a_rotated_out_secret_still_verifies_beside_the_new_one():
    old, new = new_secret(), new_secret()
    headers = sign(new, "msg_2", dt.datetime.now(dt.UTC), "{}", old_secret=old)
    assert headers["webhook-signature"].count("v1,") == 2 and len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify("{}", headers) == {}
    assert Webhook(old).verify("{}", headers) == {}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify("{}", headers)


def test_a_new_secret_is_whsec_and_24_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert secret != new_secret()


def test_plain_http_is_refused_without_the_flag():
    refused("http://hooks.example.com/x", "https", resolve=resolver("93.184.215.14"))


def test_a_scheme_other_than_https_is_refused():
    refused("ftp://hooks.example.com/x", "https")


def test_ipv4_loopback_is_refused():
    refused("https://127.0.0.1/x", "loopback")


def test_ipv6_loopback_is_refused():
    refused("https://[::1]/x", "loopback")


def test_a_10_network_address_is_refused():
    refused("https://10.1.2.3/x", "private")


def test_a_192_168_address_is_refused():
    refused("https://192.168.0.5/x", "private")


def test_the_cloud_metadata_address_is_refused_as_link_local():
    refused("https://169.254.169.254/latest/meta-data", "link-local")


def test_loopback_mapped_into_ipv6_is_refused():
    refused("https://[::ffff:127.0.0.1]/x", "loopback")


def test_a_private_address_inside_a_6to4_address_is_refused():
    refused("https://hooks.example.com/x", "private", resolve=resolver("2002:a00:1::1"))


def test_an_ipv6_site_local_address_is_refused():
    refused("https://hooks.example.com/x", "site-local", resolve=resolver("fec0::1"))


def test_the_unspecified_address_is_refused():
    refused("https://0.0.0.0/x", "unspecified")


def test_a_name_resolving_to_a_private_address_is_refused():
    refused("https://hooks.example.com/x", "private", resolve=resolver("10.0.0.7"))


def test_a_name_with_one_public_and_one_private_address_is_refused():
    refused("https://hooks.example.com/x", "loopback", resolve=resolver("93.184.215.14", "127.0.0.1"))


def test_a_name_that_does_not_resolve_is_refused():
    def nowhere(host, port, type=0):
        raise socket.gaierror("no such name")

    refused("https://nowhere.invalid/x", "does not resolve", resolve=nowhere)


def test_a_url_with_a_user_name_and_password_is_refused():
    refused("https://user:pw@hooks.example.com/x", "user name", resolve=resolver("93.184.215.14"))


def test_a_url_without_a_host_is_refused():
    refused("https:///x", "host")


def test_public_addresses_are_allowed_and_the_flag_allows_private_ones():
    assert check_target("https://hooks.example.com/x", allow_private=False,
                        resolve=resolver("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")) == [
        "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert check_target("http://127.0.0.1:8080/x", allow_private=True) == ["127.0.0.1"]
