"""infra/compose.yaml and the RabbitMQ files it mounts: valid, wired together, and in line with
the configuration contract the services read."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE = INFRA / "compose.yaml"
DEFINITIONS = INFRA / "rabbitmq" / "definitions.json"
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))
APP_SERVICES = ("api", "worker", "sweeper", "dashboard")
SCALABLE = ("api", "worker")
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str) -> str:
    """A compose value with every `${VAR:-default}` replaced by its default ('' when none)."""
    return _VARIABLE.sub(lambda m: m.group(3) if m.group(2) == "-" else "", value)


def compose() -> dict[str, Any]:
    """The compose file as compose reads it (anchors and merge keys resolved)."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def service_env(name: str) -> dict[str, str]:
    """A service's environment with the defaults compose would interpolate."""
    env = compose()["services"][name].get("environment", {})
    return {key: interpolate(str(value)) for key, value in env.items()}


def definitions() -> dict[str, Any]:
    """The RabbitMQ definitions imported at boot."""
    data: dict[str, Any] = json.loads(DEFINITIONS.read_text())
    return data


def test_the_compose_file_follows_the_compose_specification() -> None:
    run = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_misspelt_key_fails_the_compose_schema_check(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("stop_grace_period: 30s", "stop_grace_perod: 30s"))
    run = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(broken)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "stop_grace_perod" in run.stdout


def test_scalable_services_have_no_fixed_container_name_or_host_port() -> None:
    for name in SCALABLE:
        service = compose()["services"][name]
        assert "container_name" not in service and "ports" not in service, name


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in compose()["services"].items():
        image = interpolate(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and re.match(r"^\d+\.\d+\.\d+", tag), f"{name}: {image}"


def test_the_app_image_tag_is_the_project_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in APP_SERVICES:
        service = compose()["services"][name]
        assert interpolate(service["image"]) == f"wavecom-notify:{version}"
        assert service["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}
        assert service["init"] is True
        assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


class ReadLog(dict[str, str]):
    """An environment that remembers which names were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_the_services_are_configured_with_the_contract_names_and_settings_accept_them() -> None:
    for name in ("api", "worker", "sweeper"):
        env = service_env(name)
        read = ReadLog(env | {"WAVECOM_BOOTSTRAP_KEY": "wck_test"})
        settings = Settings.from_env(read)
        for key in env:
            assert key in read.asked, f"{name}: {key} is not a setting the services read"
        assert settings.queue == "notification-jobs"
        assert settings.mongodb_uri_set and "replicaSet=rs0" in settings.mongodb_uri
        assert settings.rabbitmq_url.startswith("amqp://wavecom:")


def test_the_api_requires_a_bootstrap_key_instead_of_defaulting_to_a_known_one() -> None:
    raw = compose()["services"]["api"]["environment"]["WAVECOM_BOOTSTRAP_KEY"]
    assert re.fullmatch(r"\$\{WAVECOM_BOOTSTRAP_KEY:\?[^}]+\}", raw)


def test_every_service_requires_the_one_hash_key_instead_of_running_without_suppressions() -> None:
    for name in ("api", "worker", "webhooks", "sweeper"):
        raw = compose()["services"][name]["environment"]["WAVECOM_HASH_KEY"]
        assert re.fullmatch(r"\$\{WAVECOM_HASH_KEY:\?[^}]+\}", raw), name


def test_the_mongodb_replica_set_is_the_one_the_uri_names_and_the_health_check_initiates() -> None:
    mongo = compose()["services"]["mongo"]
    command = mongo["command"]
    replica_set = command[command.index("--replSet") + 1]
    assert f"replicaSet={replica_set}" in service_env("api")["MONGODB_URI"]
    check = " ".join(mongo["healthcheck"]["test"])
    assert f"_id: '{replica_set}'" in check and "host: 'mongo:27017'" in check
    assert "isWritablePrimary" in check  # healthy only once it takes writes


def test_the_app_services_wait_for_a_healthy_store_and_broker() -> None:
    for name in ("api", "worker", "sweeper"):
        depends = compose()["services"][name]["depends_on"]
        assert depends["mongo"]["condition"] == depends["rabbitmq"]["condition"] == "service_healthy"


def test_the_gateway_serves_the_dashboard_the_builder_writes_into_the_shared_volume() -> None:
    services = compose()["services"]
    gateway, builder = services["gateway"], services["dashboard"]
    command = gateway["command"]
    prefix = command[command.index("-p") + 1].rstrip("/")
    config = Path(command[command.index("-c") + 1])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gateway["volumes"]}
    assert mounts[str(config.parent)] == "./nginx" and (INFRA / "nginx" / config.name).is_file()
    root = re.search(r"^\s*root\s+(\S+);", (INFRA / "nginx" / "nginx.conf").read_text(), re.MULTILINE)
    assert root is not None
    site = Path(prefix) / root.group(1)  # where nginx reads the dashboard
    volume, mount = next((m.split(":")[0], m.split(":")[1]) for m in builder["volumes"])
    out = Path(builder["command"][builder["command"].index("--out") + 1])  # where the builder writes
    assert mounts[str(site.parent)] == volume
    assert out.relative_to(mount) == Path(site.name)
    assert builder["command"][:2] == ["site", "build"] and "--api-base" not in builder["command"]
    assert gateway["depends_on"]["dashboard"]["condition"] == "service_completed_successfully"


def test_the_nginx_image_is_new_enough_to_resolve_api_replicas_again() -> None:
    image = compose()["services"]["gateway"]["image"]
    version = tuple(int(n) for n in re.match(r"nginx:(\d+)\.(\d+)\.(\d+)", image).groups())  # type: ignore[union-attr]
    servers = (INFRA / "nginx" / "api-servers.conf").read_text()
    assert re.search(r"^server api:4200 resolve ", servers, re.MULTILINE)
    assert version >= (1, 27, 3)  # `resolve` in upstream servers came to open-source nginx then


def test_the_rabbitmq_definitions_have_the_expected_shape() -> None:
    schema = INFRA / "rabbitmq" / "definitions.schema.json"
    meta = subprocess.run([CHECK_JSONSCHEMA, "--check-metaschema", str(schema)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert meta.returncode == 0, meta.stdout + meta.stderr
    run = subprocess.run([CHECK_JSONSCHEMA, "--schemafile", str(schema), str(DEFINITIONS)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def rabbit_password_matches(password: str, password_hash: str) -> bool:
    """Whether `password_hash` (RabbitMQ's salted SHA-256) is the hash of `password`."""
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def test_the_definitions_let_the_services_in_with_the_url_they_are_given() -> None:
    url = urlsplit(service_env("worker")["RABBITMQ_URL"])
    user, password, vhost = unquote(url.username or ""), unquote(url.password or ""), unquote(url.path[1:])
    defs = definitions()
    assert vhost in {v["name"] for v in defs["vhosts"]}
    account = next(u for u in defs["users"] if u["name"] == user)
    assert account["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert rabbit_password_matches(password, account["password_hash"])
    assert "administrator" not in account["tags"]
    grant = next(p for p in defs["permissions"] if p["user"] == user and p["vhost"] == vhost)
    assert grant["configure"] == grant["write"] == grant["read"] == ".*"


def test_the_definitions_leave_the_queues_to_the_services() -> None:
    defs = definitions()
    # The services declare their quorum queues with arguments from their settings; a queue or a
    # queue-argument policy here could disagree with them (PRECONDITION_FAILED on declare).
    assert defs.get("queues", []) == defs.get("exchanges", []) == defs.get("bindings", []) == []
    assert defs.get("policies", []) == []


def test_rabbitmq_loads_the_definitions_file_compose_mounts() -> None:
    conf = (INFRA / "rabbitmq" / "rabbitmq.conf").read_text()
    loaded = re.search(r"^load_definitions\s*=\s*(\S+)$", conf, re.MULTILINE)
    assert loaded is not None
    mounts = {interpolate(m).split(":")[1]: interpolate(m).split(":")[0]
              for m in compose()["services"]["rabbitmq"]["volumes"]}
    assert mounts[loaded.group(1)] == "./rabbitmq/definitions.json"
    assert mounts["/etc/rabbitmq/conf.d/20-wavecom.conf"] == "./rabbitmq/rabbitmq.conf"
    assert "management" in compose()["services"]["rabbitmq"]["image"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_accepts_the_file_where_it_is_installed() -> None:
    if subprocess.run(["docker", "compose", "version"], check=False, capture_output=True, timeout=30).returncode != 0:
        pytest.skip("the docker CLI has no compose plugin here")
    run = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
                         check=False, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "WAVECOM_BOOTSTRAP_KEY": "wck_check", "WAVECOM_HASH_KEY": "check"})
    assert run.returncode == 0, run.stderr


def test_the_env_example_names_every_variable_the_compose_file_reads() -> None:
    used = {m.group(1) for m in _VARIABLE.finditer(COMPOSE.read_text())}
    example = (INFRA / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert used == listed
