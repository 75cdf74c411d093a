"""The gateway of infra/nginx, for real: Debian's nginx runs the repository's nginx.conf in front of
real `wavecom api` processes on loopback ports, each process started and stopped by PID.

Only the two files the config keeps per deployment are written for the test: listen.conf (a free
port) and api-servers.conf (the replicas' addresses, with the passive health-check parameters of
the repository's own api-servers.conf)."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.embedded_store import free_port
from shared.validation import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES
from static_site.build import build
from tests.conftest import process_env, wait_for
from tests.e2e.processes import refuses

NGINX = "/usr/sbin/nginx"
CONFIG = Path(__file__).resolve().parents[2] / "infra" / "nginx"
WAVECOM = str(Path(sys.executable).with_name("wavecom"))
KEY = "wck_gateway-" + os.urandom(12).hex()
HEX32 = re.compile(r"[0-9a-f]{32}")
SMS = {"type": "sms", "recipient": "+2348012345678", "message": "Your code is 123456"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="no nginx: `make nginx` installs Debian's"),
]


@dataclass
class Replica:
    """One `wavecom api` process of the test's stack."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        """host:port, as an upstream server line names it."""
        return f"127.0.0.1:{self.port}"

    def count(self, route: str, status: int) -> float:
        """How many answers this replica counted for `route` with `status` (its own /metrics)."""
        text = httpx.get(f"http://{self.address}/metrics", timeout=5).text
        labels = rf'[^}}]*route="{re.escape(route)}"[^}}]*status="{status}"[^}}]*'
        pattern = rf"^wavecom_http_requests_total\{{{labels}\}} (\S+)$"
        return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


@dataclass
class Gateway:
    """A running nginx with the repository's config."""

    proc: subprocess.Popen[bytes]
    url: str
    prefix: Path
    config: Path
    workers: list[int] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.Client:
        """A client of the gateway holding the stack's key."""
        return httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {KEY}", **headers})

    def log(self) -> str:
        """What nginx wrote (access lines on stdout, errors on stderr)."""
        return (self.prefix / "nginx.log").read_text(errors="replace")

    def access(self) -> list[dict[str, Any]]:
        """The access log's lines (JSON)."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def access_of(self, *request_ids: str, lines: int = 1) -> list[dict[str, Any]]:
        """The access lines of these requests, once nginx has written them all (`lines` each).

        nginx writes a request's line after the client has its answer, so a test reading the
        log right after a response may be early: it waits for the lines it is about."""
        def written() -> list[dict[str, Any]] | None:
            found = [line for line in self.access() if line["request_id"] in request_ids]
            return found if len(found) >= lines * len(request_ids) else None

        return wait_for(written, what=f"nginx to log requests {', '.join(request_ids)}")


def passive_check_parameters() -> str:
    """The parameters of the repository's upstream server line, less DNS re-resolution."""
    line = re.search(r"^server \S+ (.+);", (CONFIG / "api-servers.conf").read_text(), re.MULTILINE)
    assert line is not None
    return " ".join(p for p in line.group(1).split() if p != "resolve")


def nginx_command(prefix: Path, config: Path, *extra: str) -> list[str]:
    """nginx on `prefix` with `config`, in the foreground, logging to stderr."""
    # As root, worker processes would switch to the package's user, who cannot read a private
    # temporary folder: keep them as the test's own user (a warning, ignored, when not root).
    user = pwd.getpwuid(os.geteuid()).pw_name
    return [NGINX, "-p", f"{prefix}/", "-c", str(config), "-e", "stderr",
            "-g", f"daemon off; user {user};", *extra]


def children(pid: int) -> list[int]:
    """The direct children of `pid` (nginx's worker processes)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.fixture(scope="module")
def stack(store_uri: str, broker_url: str) -> Iterator[dict[str, str]]:
    """The environment of this module's API processes: own database and queue, removed afterwards."""
    with process_env(store_uri, broker_url, "gateway", WAVECOM_BOOTSTRAP_KEY=KEY) as env:
        yield env


@pytest.fixture(scope="module")
def start_api(
    stack: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[int], list[Replica]]]:
    """Start `wavecom api` processes (each in its own process group) and wait until they answer."""
    started: list[Replica] = []
    logs = tmp_path_factory.mktemp("api")

    def start(count: int = 1) -> list[Replica]:
        batch = []
        for _ in range(count):
            port = free_port()
            log = logs / f"api-{port}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([WAVECOM, "api"], env={**stack, "WAVECOM_PORT": str(port)},
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            batch.append(Replica(proc, port, log))
        started.extend(batch)
        for replica in batch:
            def healthy(r: Replica = replica) -> bool:
                assert r.proc.poll() is None, f"wavecom api exited: {r.log.read_text()[-2000:]}"
                try:
                    return httpx.get(f"http://{r.address}/health", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, timeout=60, interval=0.1, what=f"the API on {replica.address}")
        return batch

    yield start
    for replica in started:
        if replica.proc.poll() is None:
            replica.proc.send_signal(signal.SIGTERM)
    for replica in started:
        try:
            replica.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(replica.proc.pid, signal.SIGKILL)
            replica.proc.wait()


@pytest.fixture(scope="module")
def start_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[list[str]], Gateway]]:
    """Run nginx with the repository's config in front of the given upstream addresses."""
    running: list[Gateway] = []

    def start(servers: list[str]) -> Gateway:
        prefix = tmp_path_factory.mktemp("gateway")
        shutil.copytree(CONFIG, prefix / "conf")
        port = free_port()
        (prefix / "conf" / "listen.conf").write_text(f"listen 127.0.0.1:{port};\n")
        parameters = passive_check_parameters()
        upstream = "".join(f"server {s} {parameters};\n" for s in servers)
        (prefix / "conf" / "api-servers.conf").write_text(upstream)
        build(prefix / "dashboard" / "site")
        config = prefix / "conf" / "nginx.conf"
        check = subprocess.run(nginx_command(prefix, config, "-t"), check=False,
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        # Append mode: nginx opens /dev/stdout again for its access log, and both must append.
        with (prefix / "nginx.log").open("ab") as log:
            proc = subprocess.Popen(nginx_command(prefix, config), stdout=log, stderr=subprocess.STDOUT)
        gateway = Gateway(proc, f"http://127.0.0.1:{port}", prefix, config)
        running.append(gateway)

        def serving() -> bool:
            assert proc.poll() is None, f"nginx exited: {gateway.log()[-2000:]}"
            try:
                return httpx.get(f"{gateway.url}/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(serving, timeout=20, interval=0.05, what="nginx to serve the dashboard")
        gateway.workers = children(proc.pid)
        return gateway

    yield start
    for gateway in running:
        if gateway.proc.poll() is None:
            gateway.proc.send_signal(signal.SIGTERM)  # nginx's fast shutdown: workers exit with it
        try:
            gateway.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.proc.kill()
            gateway.proc.wait()
        for pid in gateway.workers:  # left only if the master had to be killed
            try:
                if b"nginx: worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                continue


@pytest.fixture(scope="module")
def replicas(start_api: Callable[[int], list[Replica]]) -> list[Replica]:
    """Two API replicas of one stack."""
    return start_api(2)


@pytest.fixture(scope="module")
def gateway(start_gateway: Callable[[list[str]], Gateway], replicas: list[Replica]) -> Gateway:
    """The gateway in front of both replicas."""
    return start_gateway([r.address for r in replicas])


def test_nginx_accepts_the_repository_config(gateway: Gateway) -> None:
    run = subprocess.run(nginx_command(gateway.prefix, gateway.config, "-t"),
                         check=False, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and "test is successful" in run.stderr
    for name in ("nginx.conf", "api-proxy.conf"):  # the same files as in the repository
        assert (gateway.config.parent / name).read_bytes() == (CONFIG / name).read_bytes()


def test_the_gateway_serves_the_built_dashboard(gateway: Gateway) -> None:
    page = httpx.get(f"{gateway.url}/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="wavecom-api-base" content="">' in page.text  # it polls the gateway's /api
    assert page.headers["cache-control"] == "no-cache" and page.headers["x-content-type-options"] == "nosniff"
    assert HEX32.fullmatch(page.headers["x-request-id"])
    for asset, mime in (("/assets/app.css", "text/css"), ("/assets/js/app.js", "text/javascript")):
        response = httpx.get(f"{gateway.url}{asset}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(mime)
    missing = httpx.get(f"{gateway.url}/no-such-page.html")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_api_requests_reach_both_replicas_with_a_key(gateway: Gateway, replicas: list[Replica]) -> None:
    with gateway.client() as api:
        refused = api.get("/api/notifications", headers={"Authorization": ""})
        assert refused.status_code == 401 and refused.json()["type"] == "urn:wavecom:problem:key-required"
        created = api.post("/api/notifications", json=SMS)
        assert created.status_code == 201, created.text
        job = api.get(f"/api/notifications/{created.json()['id']}")
        assert job.status_code == 200 and job.json()["recipient"] == SMS["recipient"]
        for _ in range(6):
            assert api.get("/api/stats").status_code == 200
        assert api.get("/health").json() == {"status": "ok"}
    assert all(r.count("/api/stats", 200) > 0 for r in replicas)  # both served through the gateway


def test_metrics_and_readiness_are_not_served_by_the_gateway(gateway: Gateway, replicas: list[Replica]) -> None:
    for path in ("/metrics", "/ready"):
        response = httpx.get(f"{gateway.url}{path}")
        assert response.status_code == 404 and response.json()["type"] == "urn:wavecom:problem:not-found"
    assert httpx.get(f"http://{replicas[0].address}/metrics").status_code == 200  # inside the network


def test_the_client_request_id_goes_to_the_api_and_comes_back(gateway: Gateway, replicas: list[Replica]) -> None:
    request_id = "order-" + uuid.uuid4().hex[:12]
    with gateway.client(**{"X-Request-Id": request_id}) as api:
        created = api.post("/api/notifications", json=SMS)
    assert created.status_code == 201 and created.headers.get_list("x-request-id") == [request_id]
    wait_for(lambda: any(f'"request_id": "{request_id}"' in r.log.read_text() for r in replicas),
             what="the API to log the client's request id")
    with gateway.client(**{"X-Request-Id": "not a valid id!"}) as api:
        replaced = api.get("/api/stats").headers["x-request-id"]
    assert HEX32.fullmatch(replaced)


def test_a_request_id_is_made_when_the_client_sends_none(gateway: Gateway, replicas: list[Replica]) -> None:
    with gateway.client() as api:
        request_id = api.get("/api/stats").headers["x-request-id"]
    assert HEX32.fullmatch(request_id)
    wait_for(lambda: any(f'"request_id": "{request_id}"' in r.log.read_text() for r in replicas),
             what="the API to log the gateway's request id")
    assert gateway.access_of(request_id)  # and the gateway's access line too


def test_the_gateway_logs_routes_and_no_recipient_from_a_query(gateway: Gateway) -> None:
    recipient = "+23480" + str(uuid.uuid4().int)[:8]
    with gateway.client(**{"X-Request-Id": "query-log-1"}) as api:
        assert api.get("/api/notifications", params={"recipient": recipient}).status_code == 200
        assert api.get(f"/api/notifications/{recipient}").status_code == 404
    lines = gateway.access_of("query-log-1", lines=2)
    assert [line["route"] for line in lines] == ["/api/notifications", "/api/notifications/{id}"]
    assert recipient[1:] not in gateway.log()


def test_a_body_over_the_limit_is_refused_by_the_gateway(gateway: Gateway, replicas: list[Replica]) -> None:
    too_large = b'{"type": "sms", "message": "' + b"x" * MAX_BODY_BYTES + b'"}'
    with gateway.client(**{"Content-Type": "application/json", "X-Request-Id": "too-large-1"}) as api:
        refused = api.post("/api/notifications", content=too_large)
        assert refused.status_code == 413 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:wavecom:problem:body-too-large" and "gateway" in refused.json()["detail"]
        assert refused.headers["x-request-id"] == "too-large-1"
        # A batch may be larger: 2 MB reaches the API, which answers for each item.
        items = [{"type": "fax", "recipient": "+2348012345678", "message": "x" * 2000}] * 1000
        batch = api.post("/api/notifications/batch", content=json.dumps(items).encode())
        assert batch.status_code == 400 and len(batch.json()["items"]) == 1000
        oversized = b"[" + b" " * MAX_BATCH_BODY_BYTES + b"]"
        assert api.post("/api/notifications/batch", content=oversized).status_code == 413
    assert sum(r.count("/api/notifications", 413) + r.count("/api/notifications/batch", 413) for r in replicas) == 0


def test_requests_keep_succeeding_after_a_replica_is_killed(
    start_api: Callable[[int], list[Replica]], start_gateway: Callable[[list[str]], Gateway], replicas: list[Replica]
) -> None:
    (doomed,) = start_api(1)
    gateway = start_gateway([doomed.address, replicas[0].address])
    with gateway.client() as api:
        for _ in range(4):
            assert api.get("/api/stats").status_code == 200
        assert doomed.count("/api/stats", 200) > 0  # it was in service
        os.killpg(doomed.proc.pid, signal.SIGKILL)
        doomed.proc.wait(timeout=10)
        wait_for(lambda: refuses(doomed.port), what="the killed replica's port to close")
        creates = [f"after-kill-{i}-{uuid.uuid4().hex[:8]}" for i in range(10)]
        for i, request_id in enumerate(creates):
            created = api.post("/api/notifications", json=SMS, headers={"X-Request-Id": request_id})
            assert created.status_code == 201, (i, created.text)
            assert api.get(f"/api/notifications/{created.json()['id']}").status_code == 200
    # The gateway met the dead replica and went on to the other one (its access log says so).
    tried = [line["upstream"].split(", ") for line in gateway.access_of(*creates)]
    assert [doomed.address, replicas[0].address] in tried


class ClosingUpstream:
    """An upstream that reads each request whole and closes the connection without answering,
    like a replica that dies mid-request; it counts what it got."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.received: list[bool] = []  # per request: did it carry an Idempotency-Key?
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                while length and len(body) < int(length.group(1)) and (chunk := conn.recv(65536)):
                    body += chunk
                if head:
                    self.received.append(re.search(rb"(?im)^idempotency-key:", head) is not None)

    def close(self) -> None:
        """Stop listening."""
        self.server.close()
        self.thread.join(timeout=5)


def test_a_create_that_reached_a_failing_replica_is_sent_again_only_with_an_idempotency_key(
    start_gateway: Callable[[list[str]], Gateway], replicas: list[Replica]
) -> None:
    failing = ClosingUpstream()
    try:
        gateway = start_gateway([failing.address, replicas[0].address])
        sent: list[str] = []  # the request ids of every create, to find their access lines

        def create(**headers: str) -> int:
            sent.append(f"create-{len(sent)}-{uuid.uuid4().hex[:8]}")
            return api.post("/api/notifications", json=SMS, headers={"X-Request-Id": sent[-1], **headers}).status_code

        with gateway.client() as api:
            statuses = []
            for _ in range(6):  # the replicas take turns: one of these goes to the failing one
                statuses.append(create())
                if failing.received:
                    break
            # Not sent again: the replica might have created the job before it failed.
            assert failing.received == [False] and statuses.count(502) == 1
            assert set(statuses) <= {201, 502}
            keyed = []
            for n in range(6):
                keyed.append(create(**{"Idempotency-Key": f"gw-{uuid.uuid4()}-{n}"}))
                if len(failing.received) == 2:
                    break
            # With a key a second try cannot create a second job: the other replica answered.
            assert failing.received == [False, True] and set(keyed) == {201}
        tries = [(line["upstream"], line["upstream_status"]) for line in gateway.access_of(*sent)]
        assert tries.count((failing.address, "502")) == 1  # the create without a key: one try
        assert tries.count((f"{failing.address}, {replicas[0].address}", "502, 201")) == 1  # with a key: two
    finally:
        failing.close()
