"""Sending one webhook delivery safely: the target checked against SSRF, the request signed per
Standard Webhooks, no redirect followed, a 5 s limit, and at most 1 KB of the answer kept.

A target must be `https` (plain `http` only with WAVECOM_WEBHOOK_ALLOW_PRIVATE=1), and every
address its host resolves to must be public: private, loopback, link-local (the cloud metadata
address among them), multicast, reserved and unspecified ones are refused unless that flag is
set. The check runs when an endpoint is registered and again at each send, and the connection
goes to an address that check approved (pinned, with the hostname kept for TLS and `Host`), so a
second DNS answer cannot point the request elsewhere.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from standardwebhooks import Webhook

from shared.errors import WavecomError

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

    try:
        address = check_target(url, allow_private=allow_private, resolve=resolve)[0]
    except TargetRefused as e:
        return Attempt(None, took(), f"refused: {e}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s, total=timeout_s)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
                                           server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    sent = {**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Host": host if parts.port is None else f"{host}:{port}"}
    try:
        response = pool.urlopen("POST", path, body=payload.encode(), headers=sent, redirect=False,
                                preload_content=False, assert_same_host=False)
        try:
            kept = response.read(KEPT_BYTES, decode_content=False)[:KEPT_BYTES]
        finally:
            response.release_conn()
            response.close()
    except urllib3.exceptions.TimeoutError:
        return Attempt(None, took(), f"timed out after {timeout_s:g} s")
    except urllib3.exceptions.HTTPError as e:
        return Attempt(None, took(), f"no answer ({type(e).__name__})")
    finally:
        pool.close()
    body = kept.decode(errors="replace")
    if 300 <= response.status < 400:
        return Attempt(response.status, took(), "redirect refused", body)
    error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
    return Attempt(response.status, took(), error, body)
