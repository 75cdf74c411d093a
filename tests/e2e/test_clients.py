"""Clients nobody here wrote, run as their users run them against a live stack (`wavecom up`):
Schemathesis's command line checks the API against its OpenAPI document."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import spec_exclusions
from tests.e2e.processes import ROOT, WAVECOM, Stack, stack

pytestmark = pytest.mark.slow
ST = str(Path(sys.executable).with_name("st"))
# Generated requests per operation (and stateful steps); more with WAVECOM_FUZZ_EXAMPLES.
FUZZ_EXAMPLES = int(os.environ.get("WAVECOM_FUZZ_EXAMPLES", "40"))
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, broker_url: str) -> Iterator[Stack]:
    """The whole stack as `make run` starts it, in a directory of its own."""
    with stack([WAVECOM, "up"], tmp_path_factory.mktemp("clients"), broker_url) as running:
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
