"""Clients nobody here wrote, run as their users run them against a live stack (`wavecom up`):
Schemathesis's command line checks the API against its OpenAPI document, and newman runs the
Postman collection exported from it, as exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.openapi import OPERATIONS
from tests.conftest import wait_for
from tests.e2e import spec_exclusions
from tests.e2e.processes import ROOT, WAVECOM, Stack, stack
from tests.receiver import receiver

pytestmark = pytest.mark.slow
ST = str(Path(sys.executable).with_name("st"))
# Generated requests per operation (and stateful steps); more with WAVECOM_FUZZ_EXAMPLES.
FUZZ_EXAMPLES = int(os.environ.get("WAVECOM_FUZZ_EXAMPLES", "40"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
COLLECTION = ROOT / "WaveCom-Notifications.postman_collection.json"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"  # pinned in package.json; `make test` runs `npm ci`


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, broker_url: str) -> Iterator[Stack]:
    """The whole stack as `make run` starts it, in a directory of its own."""
    # Webhook endpoints on loopback are allowed: the collection registers the test's receiver.
    with stack([WAVECOM, "up"], tmp_path_factory.mktemp("clients"), broker_url,
               WAVECOM_WEBHOOK_ALLOW_PRIVATE="1") as running:
        yield running


@pytest.mark.timeout(600)
def test_schemathesis_with_every_check_finds_the_api_true_to_its_document(
    live: Stack, artifacts_dir: Path, tmp_path: Path
) -> None:
    """`st run --checks all`, every phase (examples, coverage, fuzzing, stateful through the create
    response's links). A schema-valid request may be refused only for a reason the document cannot
    state, each named with its reason in tests/e2e/spec_exclusions.py."""
    assert all(x.reason for x in spec_exclusions.EXCLUSIONS)
    report = artifacts_dir / "schemathesis.txt"
    run = subprocess.run(
        [ST, "--config-file", str(CONFIG), "run", f"{live.base}/api/openapi.json", "--checks", "all", "--max-examples", str(FUZZ_EXAMPLES),
         "--generation-deterministic", "--request-timeout", "30", "--no-color",
         "-H", f"Authorization: Bearer {live.key}"],
        env={**os.environ, "SCHEMATHESIS_HOOKS": spec_exclusions.__name__, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,  # its cache of this run stays out of the repository
        capture_output=True, text=True, timeout=540, check=False,
    )
    report.write_text(run.stdout + run.stderr)
    assert run.returncode == 0, f"see {report}:\n" + run.stdout[-6000:]
    assert "Stateful" in run.stdout and "API Links:" in run.stdout


def newman(live: Stack, report: Path, api_key: str, webhook_url: str = "http://127.0.0.1:9/hook") -> subprocess.CompletedProcess[str]:
    """`newman run` of the collection in the repository, with the variables a user sets."""
    return subprocess.run(
        [str(NEWMAN), "run", str(COLLECTION), "--env-var", f"baseUrl={live.base}", "--env-var", f"apiKey={api_key}",
         "--env-var", f"webhookUrl={webhook_url}",
         "--reporters", "cli,json", "--reporter-json-export", str(report), "--color", "off",
         "--timeout-request", "30000"],
        capture_output=True, text=True, timeout=120, check=False,
    )


needs_newman = pytest.mark.skipif(not NEWMAN.exists(), reason="no newman: `make test` installs it (npm ci)")


@needs_newman
def test_the_postman_collection_passes_as_exported(live: Stack, tmp_path: Path) -> None:
    with receiver() as hook:
        run = newman(live, tmp_path / "newman.json", live.key, hook.url)
        assert run.returncode == 0, run.stdout[-6000:]
        # The registered endpoint's test event reached the receiver, signed.
        wait_for(lambda: hook.of_type("webhook.test"), what="the collection's test event")
    report = json.loads((tmp_path / "newman.json").read_text())["run"]
    requests = len(json.loads(COLLECTION.read_text())["item"])
    assert report["stats"]["requests"] == {"total": requests, "pending": 0, "failed": 0}
    bodiless = sum(op.ok[0] == 204 for op in OPERATIONS.values())  # a status to check, no shape
    assert report["stats"]["assertions"]["failed"] == 0
    assert report["stats"]["assertions"]["total"] >= 2 * requests - bodiless
    # The create kept its job's id, and the requests after it went to that job.
    created = next(e for e in report["executions"] if e["item"]["name"] == "Create a notification")
    job_id = json.loads(bytes(created["response"]["stream"]["data"]))["id"]
    paths = ["/".join(e["request"]["url"]["path"]) for e in report["executions"]]
    for action in ("", "/logs", "/retry", "/cancel"):
        assert f"api/notifications/{job_id}{action}" in paths


@needs_newman
def test_the_collection_fails_when_the_api_refuses_it(live: Stack, tmp_path: Path) -> None:
    run = newman(live, tmp_path / "newman.json", "wck_not-a-key")  # every /api request gets 401
    report = json.loads((tmp_path / "newman.json").read_text())["run"]
    assert run.returncode != 0 and report["stats"]["assertions"]["failed"] >= 8
