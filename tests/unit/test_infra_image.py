"""infra/Dockerfile, .dockerignore and the image's health check: what a container relies on."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "Dockerfile"
HADOLINT = str(Path(sys.executable).with_name("hadolint"))


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines if line and not line.startswith("#")]


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: what the image is."""
    steps = instructions()
    last = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last:]


def image_env() -> dict[str, str]:
    """The ENV the final stage sets (`KEY=value` pairs)."""
    env: dict[str, str] = {}
    for keyword, args in final_stage():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    return env


def healthcheck() -> ModuleType:
    """infra/healthcheck.py, the script the image's HEALTHCHECK runs."""
    spec = importlib.util.spec_from_file_location("wavecom_healthcheck", ROOT / "infra" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    run = subprocess.run([HADOLINT, str(DOCKERFILE)], check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_is_built_in_a_separate_stage_from_a_pinned_slim_python() -> None:
    steps = instructions()
    base = next(args for keyword, args in steps if keyword == "ARG" and args.startswith("PYTHON_IMAGE="))
    assert base.split("=", 1)[1].startswith("python:3.11.") and "-slim" in base
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    runtime = " ".join(args for keyword, args in final_stage() if keyword in ("RUN", "COPY"))
    for build_tool in ("apt-get", "gcc", "build-essential", "pip install", "pip wheel"):
        assert build_tool not in runtime
    assert "--from=build /opt/wavecom /opt/wavecom" in runtime


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_entrypoint_is_the_wavecom_command_in_exec_form() -> None:
    steps = dict(final_stage())
    assert json.loads(steps["ENTRYPOINT"]) == ["wavecom"]  # exec form: wavecom is PID 1, gets SIGTERM
    assert json.loads(steps["CMD"]) == ["api"]
    assert steps["STOPSIGNAL"] == "SIGTERM"


def test_the_healthcheck_runs_the_script_in_exec_form_without_curl() -> None:
    check = dict(final_stage())["HEALTHCHECK"]
    command = check[check.index("CMD ") + 4:]
    assert json.loads(command) == ["python", "/opt/wavecom/healthcheck.py"]
    copies = [args for keyword, args in final_stage() if keyword == "COPY"]
    assert "infra/healthcheck.py /opt/wavecom/healthcheck.py" in copies


def test_the_image_environment_makes_the_api_listen_on_every_interface() -> None:
    settings = Settings.from_env(image_env())
    assert (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", 4200, 9464)
    assert image_env()["PATH"].startswith("/opt/wavecom/bin:")


def _matches(pattern: str, path: str) -> bool:
    parts = path.split("/")
    if pattern.startswith("**/"):  # the rest names one file or folder at any depth
        return any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
    # A pattern that matches a folder takes everything in it.
    return any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), pattern) for i in range(len(parts)))


def dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context (the last matching rule wins)."""
    allowed = True
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if rule and not rule.startswith("#") and _matches(rule.lstrip("!").rstrip("/"), path):
            allowed = rule.startswith("!")
    return allowed


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_local_state() -> None:
    copies = [args.split()[:-1] for keyword, args in instructions() if keyword == "COPY" and not args.startswith("--")]
    for paths in copies:
        for source in paths:
            assert (ROOT / source).exists(), source
            assert dockerignore_allows(source.rstrip("/")), source
    assert dockerignore_allows("shared/config.py") and dockerignore_allows("static_site/templates/index.html")
    for private in (".venv/bin/python", ".wavecom/bootstrap-key", ".git/config", "tests/conftest.py",
                    "static_site/_build/index.html", "shared/__pycache__/config.cpython-311.pyc",
                    "infra/compose.yaml", "test-artifacts/dashboard.png", "bench-reports/run.json"):
        assert not dockerignore_allows(private), private


def test_the_healthcheck_finds_the_role_in_the_command_pid_1_runs() -> None:
    role_of = healthcheck().role_of
    assert role_of(b"/opt/wavecom/bin/python\0/opt/wavecom/bin/wavecom\0api\0") == "api"
    assert role_of(b"python\0wavecom\0worker\0") == "worker"
    assert role_of(b"python\0wavecom\0site\0build\0--out\0/srv/dashboard/site\0") == "site"
    assert role_of(b"python\0wavecom\0keys\0create\0--tenant\0api\0") == "keys"
    assert role_of(b"/sbin/docker-init\0--\0wavecom\0sweeper\0") == "sweeper"  # compose's `init: true`
    assert role_of(b"sleep\0infinity\0") == ""


def test_the_healthcheck_probes_the_api_and_a_worker_on_their_own_ports() -> None:
    probe_url = healthcheck().probe_url
    image = {"WAVECOM_HOST": "0.0.0.0", "WAVECOM_PORT": "4200", "WAVECOM_METRICS_PORT": "9464"}
    assert probe_url("api", image) == "http://127.0.0.1:4200/health"
    assert probe_url("worker", image) == "http://127.0.0.1:9464/metrics"
    assert probe_url("api", {"WAVECOM_HOST": "10.0.0.5", "WAVECOM_PORT": "8000"}) == "http://10.0.0.5:8000/health"
    assert probe_url("api", {}) == "http://127.0.0.1:4200/health"
    assert probe_url("worker", {**image, "WAVECOM_METRICS_PORT": "0"}) is None  # metrics turned off
    assert probe_url("sweeper", image) is None and probe_url("site", image) is None


def test_the_healthcheck_says_unhealthy_when_nothing_answers(tmp_path: Path) -> None:
    from local.embedded_store import free_port

    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0wavecom\0api\0")
    script = ROOT / "infra" / "healthcheck.py"
    env = {"WAVECOM_HOST": "127.0.0.1", "WAVECOM_PORT": str(free_port())}
    code = f"import runpy; m = runpy.run_path({str(script)!r}); raise SystemExit(m['main'](m['Path']({str(cmdline)!r})))"
    run = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "unhealthy" in run.stderr
    cmdline.write_bytes(b"python\0wavecom\0sweeper\0")
    assert subprocess.run([sys.executable, "-c", code], check=False, env=env, timeout=30).returncode == 0
