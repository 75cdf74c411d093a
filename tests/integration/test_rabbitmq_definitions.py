"""infra/rabbitmq/definitions.json imported into this machine's real RabbitMQ: the user and vhost
it defines let the services declare their own queues, publish and consume, with the password of
compose's RABBITMQ_URL. Imported under names of the test's own, and removed afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pika
import pytest
import yaml

from shared.broker import Publisher, parameters
from shared.topology import Topology
from tests.conftest import unique, wait_for
from tests.unit.test_infra_compose import interpolate

INFRA = Path(__file__).resolve().parents[2] / "infra"
RABBITMQCTL = shutil.which("rabbitmqctl")


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    """Run rabbitmqctl against the local node."""
    assert RABBITMQCTL is not None
    return subprocess.run([RABBITMQCTL, *args], check=False, capture_output=True, text=True, timeout=60)


@pytest.fixture
def imported(broker_url: str) -> Iterator[str]:
    """The definitions imported with the test's own user and vhost; yields the URL to use."""
    if RABBITMQCTL is None or rabbitmqctl("list_vhosts").returncode != 0:
        pytest.skip("rabbitmqctl cannot reach the local RabbitMQ node")
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    url = urlsplit(interpolate(compose["services"]["worker"]["environment"]["RABBITMQ_URL"]))
    user, vhost = unquote(url.username or ""), unquote(url.path[1:])
    name = unique("defs")
    defs = json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())
    for entry in defs["users"]:
        entry["name"] = name if entry["name"] == user else entry["name"]
    for entry in defs["vhosts"]:
        entry["name"] = name if entry["name"] == vhost else entry["name"]
    for entry in defs["permissions"]:
        entry.update(user=name if entry["user"] == user else entry["user"],
                     vhost=name if entry["vhost"] == vhost else entry["vhost"])
    assert len(defs["users"]) == len(defs["vhosts"]) == 1, "rename every user and vhost the file defines"
    # rabbitmqctl may run as the broker's user, who cannot read pytest's private folders (and
    # the broker here cannot read definitions from standard input): a readable folder of its own.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        file = Path(folder) / "definitions.json"
        file.write_text(json.dumps(defs))
        file.chmod(0o644)
        imported = rabbitmqctl("import_definitions", str(file))
    assert imported.returncode == 0, imported.stderr
    host = urlsplit(broker_url).netloc.rsplit("@", 1)[-1]
    try:
        yield f"amqp://{quote(name)}:{quote(unquote(url.password or ''))}@{host}/{quote(name, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", name)  # its queues go with it
        rabbitmqctl("delete_user", name)


def test_the_services_declare_publish_and_consume_with_the_imported_user(imported: str) -> None:
    def connects() -> bool:  # the import runs in the background
        try:
            pika.BlockingConnection(parameters(imported)).close()
            return True
        except pika.exceptions.AMQPError:
            return False

    wait_for(connects, timeout=20, interval=0.2, what="the imported user to be able to log in")
    topology = Topology(queue=unique("defs-jobs"))
    publisher = Publisher(imported, topology)
    try:
        publisher.publish_jobs(["6b05a10ad2944b3343f56957"])  # declares the main and dead queues
        publisher.publish_jobs(["6b05a10ad2944b3343f56958"], delay_ms=1000)  # and a delay queue
    finally:
        publisher.close()
    connection = pika.BlockingConnection(parameters(imported))
    try:
        channel = connection.channel()
        method, _, body = channel.basic_get(topology.queue, auto_ack=True)
        assert method is not None and json.loads(body) == {"jobId": "6b05a10ad2944b3343f56957"}
        assert channel.queue_declare(topology.delay(1000), passive=True).method.message_count == 1
    finally:
        connection.close()
