"""Sending one webhook delivery safely: the target checked against SSRF, the request signed per
Standard Webhooks, no redirect followed, 5 s for the whole exchange (however slowly the receiver
answers), and at most 1 KB of the answer kept.

A target must be `https` (plain `http` only with WAVECOM_WEBHOOK_ALLOW_PRIVATE=1), and every
address its host resolves to must be public: private, loopback, link-local (the cloud metadata
address among them), multicast, reserved and unspecified ones are refused unless that flag is
set. The check runs when an endpoint is registered and again at each send, and the connection
goes to an address that check approved (pinned, with the hostname kept for TLS and `Host`), so a
second DNS answer cannot point the request elsewhere.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from standardwebhooks import Webhook

from shared.errors import WavecomError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

TIMEOUT_S = 5.0
KEPT_BYTES = 1024
USER_AGENT = "WaveCom-Notify-Webhooks/1"
Resolver = Callable[..., list[Any]]


class TargetRefused(WavecomError):
    """A webhook URL the service will not call, and why (never the payload)."""


def _refused_address(address: str) -> str | None:
    """Why an address may not be called without the flag, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped, or 6to4) is judged as that IPv4 address.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast), ("private", ip.is_private),
                       ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
                       ("reserved", ip.is_reserved)):
        if test:
            return kind
    return None if ip.is_global else "not public"


def check_target(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses `url` may be called at; TargetRefused when it may not be called at all."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_private):
        raise TargetRefused("must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry a user name or password")
    host = parts.hostname
    if not host:
        raise TargetRefused("must name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except ValueError:
        raise TargetRefused("has an invalid port") from None
    except (OSError, UnicodeError):  # socket.gaierror, and what an injected resolver raises
        raise TargetRefused(f"names a host that does not resolve ({host})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise TargetRefused(f"names a host that does not resolve ({host})")
    if not allow_private:
        for address in addresses:
            why = _refused_address(address)
            if why:
                raise TargetRefused(f"resolves to a {why} address, which webhooks may not call")
    return addresses


def new_secret() -> str:
    """A new signing secret, `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: datetime, payload: str, old_secret: str | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery; with `old_secret` (a rotated-out secret still
    honoured) the signature header carries a signature by each, so either verifies."""
    at = timestamp.astimezone(UTC)
    signatures = [Webhook(s).sign(msg_id, at, payload) for s in (secret, old_secret) if s]
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(signatures)}


@dataclass(frozen=True)
class Attempt:
    """How one delivery went: the receiver's status (None when none came back), how long it took,
    why it failed, and the start of its answer."""

    status_code: int | None
    duration_ms: int
    error: str | None
    body: str = ""

    @property
    def ok(self) -> bool:
        """Whether the receiver took it (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, payload: str, headers: dict[str, str], *, allow_private: bool, timeout_s: float = TIMEOUT_S,
         resolve: Resolver = socket.getaddrinfo) -> Attempt:
    """POST a signed payload to a checked target; the outcome, never an exception."""
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    parts = urlsplit(url)
    try:
        address = check_target(url, allow_private=allow_private, resolve=resolve)[0]
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except TargetRefused as e:
        return Attempt(None, took(), f"refused: {e}")
    except UnicodeError:
        return Attempt(None, took(), "refused: names a host that is not a valid host name")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    named = f"[{host}]" if ":" in host else host
    sent = {**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Host": named if parts.port is None else f"{named}:{port}"}
    path = quote(parts.path or "/", safe=_URL_SAFE) + (f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else "")
    conn = http.client.HTTPConnection(host, port)
    response: http.client.HTTPResponse | None = None
    try:
        # Connected (and TLS verified for the hostname) to the checked address, never to a new lookup.
        conn.sock = _connect(address, port, host if parts.scheme == "https" else None, started + timeout_s)
        conn.request("POST", path, body=payload.encode(), headers=sent)
        response = conn.getresponse()  # http.client never follows a redirect
        status = response.status
        kept = _read_some(response)
    except TimeoutError:
        return Attempt(None, took(), f"timed out after {timeout_s:g} s")
    except ssl.SSLCertVerificationError as e:
        return Attempt(None, took(), f"TLS certificate refused ({e.verify_message})")
    except ssl.SSLError as e:
        return Attempt(None, took(), f"TLS failed ({e.reason or type(e).__name__})")
    except http.client.HTTPException as e:
        return Attempt(None, took(), f"bad answer ({type(e).__name__})")
    except OSError as e:
        return Attempt(None, took(), f"no answer ({e.strerror or type(e).__name__})")
    finally:
        if response is not None:
            response.close()
        conn.close()
    body = kept.decode(errors="replace")
    if 300 <= status < 400:
        return Attempt(status, took(), "redirect refused", body)
    return Attempt(status, took(), None if 200 <= status < 300 else f"HTTP {status}", body)


# Characters kept as they are in a path or query (the URL's reserved ones, and existing escapes);
# anything else (spaces, controls, non-ASCII) is percent-encoded rather than sent raw.
_URL_SAFE = "/%:@!$&'()*+,;=~-._"


def _left(deadline: float) -> float:
    """The seconds left before `deadline`; TimeoutError once it has passed."""
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


# A socket's own timeout bounds each read, so a receiver that trickles its answer a byte at a time
# would hold a send for ever; these sockets cut every read and write to the time left instead.
class _PlainSocket(socket.socket):
    deadline = 0.0

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(_left(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        self.settimeout(_left(self.deadline))
        super().sendall(data, flags)


class _TlsSocket(ssl.SSLSocket):
    deadline = 0.0

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(_left(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:  # sendall writes through send
        self.settimeout(_left(self.deadline))
        return super().send(data, flags)


def _connect(address: str, port: int, tls_host: str | None, deadline: float) -> socket.socket:
    """A socket connected to `address` before `deadline`; with `tls_host`, TLS set up with SNI for
    that name and its certificate verified against it."""
    raw = _PlainSocket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    raw.deadline = deadline
    try:
        raw.settimeout(_left(deadline))
        raw.connect((address, port))
        if tls_host is None:
            return raw
        context = ssl.create_default_context()
        context.sslsocket_class = _TlsSocket
        tls = context.wrap_socket(raw, server_hostname=tls_host, do_handshake_on_connect=False)
    except BaseException:
        raw.close()
        raise
    assert isinstance(tls, _TlsSocket)
    tls.deadline = deadline
    try:
        tls.settimeout(_left(deadline))  # the handshake as a whole is bounded by this timeout
        tls.do_handshake()
    except BaseException:
        tls.close()
        raise
    return tls


def _read_some(response: http.client.HTTPResponse) -> bytes:
    """At most KEPT_BYTES of the answer's body; the rest is never read (the socket is closed)."""
    kept = b""
    while len(kept) < KEPT_BYTES:
        chunk = response.read(KEPT_BYTES - len(kept))
        if not chunk:
            break
        kept += chunk
    return kept
