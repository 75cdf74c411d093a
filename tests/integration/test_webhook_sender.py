"""The webhook sender against real HTTP(S) servers on loopback, and each SSRF refusal."""

import base64
import datetime as dt
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook, WebhookVerificationError

from shared.webhooksend import TargetRefused, check_target, new_secret, post, sign

PAYLOAD = '{"type":"notification.sent","data":{"recipient":"+2348012345678","otp":"493817"}}'


@contextmanager
def server(handle, tls=None):
    """A loopback HTTP server (HTTPS with the `tls` context) answering every POST with
    `handle(handler)`; its base URL and the (path, headers, body) of each request it got."""
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
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}", seen
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


@pytest.fixture
def tls_for(tmp_path, monkeypatch):
    """A server context whose certificate names `hostname`, issued by a CA the client trusts."""
    def make(hostname):
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test webhook CA")])
        now = dt.datetime.now(dt.UTC)

        def cert(subject, public_key, *extensions):
            builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                       .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                       .not_valid_after(now + dt.timedelta(hours=1)))
            for extension, critical in extensions:
                builder = builder.add_extension(extension, critical=critical)
            return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

        ca = cert(ca_name, ca_key.public_key(), (x509.BasicConstraints(ca=True, path_length=None), True),
                  (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
                  (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False))
        leaf = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]), key.public_key(),
                    (x509.SubjectAlternativeName([x509.DNSName(hostname)]), False),
                    (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False))
        (tmp_path / "ca.pem").write_bytes(ca)
        (tmp_path / "leaf.pem").write_bytes(leaf)
        (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # read by the default context
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
        return context
    return make


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


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline():
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

    threading.Thread(target=trickle, daemon=True).start()
    with listener:
        started = time.perf_counter()
        result = post(f"http://127.0.0.1:{listener.getsockname()[1]}/", *signed(new_secret()), allow_private=True,
                      timeout_s=0.5)
    assert result.status_code is None and "timed out" in result.error
    assert time.perf_counter() - started < 1.5


def test_at_most_1_kb_of_the_answer_is_kept():
    with server(answer(200, b"x" * 5000)) as (url, _):
        result = post(url, *signed(new_secret()), allow_private=True)
    assert result.ok and result.body == "x" * 1024 and len(result.body.encode()) == 1024


def test_a_receiver_that_is_not_listening_is_a_failed_attempt():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    result = post(f"http://127.0.0.1:{port}/", *signed(new_secret()), allow_private=True)
    assert result.status_code is None and result.error.startswith("no answer")


def test_a_loopback_receiver_is_not_called_without_the_flag():
    with server(answer(200)) as (url, seen):
        result = post(url.replace("http:", "https:"), *signed(new_secret()), allow_private=False)
    assert result.status_code is None and result.error.startswith("refused") and "loopback" in result.error
    assert seen == []


def test_the_request_goes_to_the_checked_address_even_if_dns_changes():
    calls = []
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])

    def rebinding(host, port, type=0):
        return resolver(*next(answers), calls=calls)(host, port, type)

    with server(answer(200)) as (url, seen):
        port = url.rsplit(":", 1)[1]
        result = post(f"http://hooks.test:{port}/hook", *signed(new_secret()), allow_private=True, resolve=rebinding)
    assert result.ok and calls == ["hooks.test"]
    assert seen[0][1]["Host"] == f"hooks.test:{port}"


def test_tls_is_verified_for_the_hostname_while_connecting_to_the_pinned_address(tls_for):
    with server(answer(200), tls=tls_for("hooks.test")) as (url, seen):
        port = url.rsplit(":", 1)[1]
        result = post(f"https://hooks.test:{port}/hook", *signed(new_secret()), allow_private=True,
                      resolve=resolver("127.0.0.1"))
    assert result.ok, result.error
    assert seen[0][1]["Host"] == f"hooks.test:{port}"


def test_a_certificate_for_another_name_is_refused(tls_for):
    with server(answer(200), tls=tls_for("hooks.test")) as (url, seen):
        port = url.rsplit(":", 1)[1]
        result = post(f"https://other.test:{port}/hook", *signed(new_secret()), allow_private=True,
                      resolve=resolver("127.0.0.1"))
    assert result.status_code is None and result.error.startswith("TLS certificate refused")
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
