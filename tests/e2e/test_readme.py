"""The README's shell sessions work when pasted: run in bash, as written, in the directory of a
running `wavecom up` (its data in ./.wavecom, MONGODB_URI unset), against its port."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import ROOT, WAVECOM, Stack, stack

pytestmark = pytest.mark.slow
README = ROOT / "README.md"


def session(starts_with: str) -> list[str]:
    """The commands of the README's console block that begins with `starts_with` (a `$ ` line and
    its continuation lines each; output lines left out)."""
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(), re.DOTALL)
    block = next(b for b in blocks if b.startswith(f"$ {starts_with}"))
    commands: list[str] = []
    continued = False
    for line in block.splitlines():
        if continued:
            commands[-1] += "\n" + line
        elif line.startswith("$ "):
            commands.append(line[2:])
        continued = (continued or line.startswith("$ ")) and line.endswith("\\")
    return commands


def run_pasted(commands: list[str], workdir: Path, port: str) -> list[str]:
    """Each command in one bash session, as pasted into a terminal; what each printed."""
    marker = "=== next command ==="
    script = f"\necho '{marker}'\n".join(c.replace("127.0.0.1:4200", f"127.0.0.1:{port}") for c in commands)
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "WAVECOM_DATA_DIR", "WAVECOM_BOOTSTRAP_KEY")}
    run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.split(marker + "\n")


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory, broker_url: str) -> Iterator[Stack]:
    """`wavecom up` with its data in ./.wavecom of its directory, as `make run` keeps it, and the
    project's .venv reachable from there as from a checkout."""
    workdir = tmp_path_factory.mktemp("readme")
    (workdir / ".venv").symlink_to(Path(WAVECOM).parent.parent)
    with stack([WAVECOM, "up"], workdir, broker_url, WAVECOM_DATA_DIR=str(workdir / ".wavecom")) as running:
        yield running


def test_the_first_curl_session_works_when_pasted(here: Stack) -> None:
    outputs = run_pasted(session("export WAVECOM_KEY"), here.workdir, here.base.rsplit(":", 1)[1])
    created = json.loads(outputs[2])
    job = json.loads(outputs[4])
    logs = json.loads(outputs[5])
    assert job["id"] == created["id"] and job["recipient"] == "+2348012345678"
    assert logs[0]["event"] == "created" and logs[0]["jobId"] == created["id"]


def test_the_keys_session_works_when_pasted_beside_make_run(here: Stack) -> None:
    outputs = run_pasted(session("acme=$(.venv/bin/wavecom keys create"), here.workdir, "4200")
    shown, listed, revoked = outputs[1], outputs[2], outputs[3]
    key_id = re.search(r"key id (wck_\S+)\.", shown).group(1)
    assert f"{key_id}  acme-bank  active" in listed and "  default  active" in listed
    assert revoked == "revoked 1 key(s)\n"
