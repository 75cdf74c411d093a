"""`wavecom package`: the Chalice app as a SAM template and a deployment zip, ready for `sam deploy`.

Chalice packages only its app file, `chalicelib/` and `vendor/`. So the Chalice project
(`functions/app.py` and `functions/.chalice/`) is staged in a temporary directory, with the
project's own packages and the Lambda's third-party requirements in its `vendor/`, and
`chalice package` runs there with the merge template that adds what Chalice cannot express (the
Amazon MQ event source). Nothing is written into the repository.

The Lambda's requirements are derived, not kept by hand: the pinned dependencies of
pyproject.toml that `functions` and `shared` import, with their own dependencies pinned to the
versions installed here.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "functions"
MERGE_TEMPLATE = ROOT / "infra" / "chalice" / "amazon-mq.json"
FIRST_PARTY = ("functions", "shared")  # what the Lambda runs; `local` and `static_site` stay here
ALL_FIRST_PARTY = (*FIRST_PARTY, "local", "static_site")
BUNDLED_BY_CHALICE = frozenset({"chalice"})  # Chalice adds its own runtime (chalice/app.py) to the zip
REQUIREMENTS = "lambda-requirements.txt"
# The Lambda runtime the template names (python3.11, x86_64, Amazon Linux 2: glibc 2.26).
PYTHON = "3.11"
PLATFORM = "manylinux2014_x86_64"
MAX_GLIBC = (2, 26)
LAMBDA_MARKERS: dict[str, str] = {
    **{name: str(value) for name, value in default_environment().items()},
    "python_version": PYTHON,
    "python_full_version": f"{PYTHON}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's limit for a function's unzipped code


class PackagingError(Exception):
    """The deployment could not be packaged; the message says why."""


def imported_modules(packages: Iterable[str] = FIRST_PARTY) -> set[str]:
    """Top-level modules the packages import at run time (`if TYPE_CHECKING:` blocks excluded)."""
    found: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            found |= _imports(ast.parse(path.read_text(), str(path)))
    return found


def _imports(node: ast.AST) -> set[str]:
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return set().union(*(_imports(child) for child in node.orelse))
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    return set().union(*(_imports(child) for child in ast.iter_child_nodes(node)))


def pinned_dependencies() -> dict[str, Requirement]:
    """pyproject.toml's runtime dependencies, by canonical distribution name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def lambda_requirements() -> list[str]:
    """The Lambda's requirements, each `name==version`: what `functions` and `shared` import,
    and everything that needs, for the Lambda's platform."""
    pinned = pinned_dependencies()
    providers = metadata.packages_distributions()
    needed: dict[str, set[str]] = {}  # distribution -> the modules that need it
    undeclared: list[str] = []
    for module in sorted(imported_modules()):
        if module in ALL_FIRST_PARTY and module not in FIRST_PARTY:
            raise PackagingError(f"functions or shared import `{module}`, which the Lambda does not carry")
        if module in FIRST_PARTY or module in sys.stdlib_module_names:
            continue
        if module not in providers:
            undeclared.append(module)
        for dist in providers.get(module, []):
            needed.setdefault(canonicalize_name(dist), set()).add(module)
    direct = {name: pinned[name] for name in needed if name in pinned and name not in BUNDLED_BY_CHALICE}
    closure = _closure(direct.values())
    undeclared += sorted(m for name, ms in needed.items() if name not in closure and name not in pinned for m in ms)
    if undeclared:
        raise PackagingError(f"imported but not a dependency in pyproject.toml: {', '.join(undeclared)}")
    return [f"{name}=={version}" for name, version in sorted(closure.items())]


def _closure(requirements: Iterable[Requirement]) -> dict[str, str]:
    """Every distribution the requirements need on the Lambda's platform, with its version here."""
    versions: dict[str, str] = {}
    expanded: set[tuple[str, str]] = set()  # (distribution, extra) whose requirements are queued
    pending = [(r, "") for r in requirements]  # a requirement, and the extra that asked for it
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PackagingError(f"{name} is needed on Lambda but not installed here: run `make` first") from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise PackagingError(f"{name} {dist.version} is installed, {requirement} is wanted")
        versions[name] = dist.version
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) not in expanded:
                expanded.add((name, wanted))
                pending += [(Requirement(child), wanted) for child in dist.requires or []]
    return versions


def vendor_from_index(requirements_file: Path, vendor: Path) -> None:
    """Install the requirements' Lambda wheels (manylinux, CPython 3.11) into `vendor`, from the
    package index pip is configured with."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
        "--only-binary=:all:", "--platform", PLATFORM, "--implementation", "cp",
        "--python-version", PYTHON, "--abi", "cp" + PYTHON.replace(".", ""),
        "--target", str(vendor), "-r", str(requirements_file),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise PackagingError("pip could not fetch the Lambda's wheels (try --deps venv to copy this environment's)")
    shutil.rmtree(vendor / "bin", ignore_errors=True)  # console scripts: nothing runs them on Lambda


def vendor_from_environment(requirements: list[str], vendor: Path) -> None:
    """Copy the requirements' installed files from this environment into `vendor`, offline;
    each must have come from a wheel that runs on Lambda's platform."""
    for line in requirements:
        dist = metadata.distribution(line.split("==")[0])
        tags = [t for t in (dist.read_text("WHEEL") or "").splitlines() if t.startswith("Tag:")]
        if not any(_runs_on_lambda(t.removeprefix("Tag:").strip()) for t in tags):
            raise PackagingError(f"{dist.name} here is built for {tags or 'an unknown platform'}: use --deps index")
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or "__pycache__" in file.parts or not source.is_file():
                continue  # console scripts outside site-packages, bytecode
            target = vendor / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _runs_on_lambda(tag: str) -> bool:
    """Whether a wheel tag (`py3-none-any`, `cp311-cp311-manylinux_2_17_x86_64`) runs there."""
    interpreters, abis, platforms = (part.split(".") for part in tag.split("-"))
    return any(_one_tag_runs(i, a, p) for i in interpreters for a in abis for p in platforms)


def _one_tag_runs(interpreter: str, abi: str, platform: str) -> bool:
    cpython = "cp" + PYTHON.replace(".", "")
    if platform == "any":
        return interpreter in ("py3", cpython) or (interpreter.startswith("py3") and abi == "none")
    if interpreter != cpython or abi not in ("abi3", cpython):
        return False
    legacy = {"manylinux1_x86_64": (2, 5), "manylinux2010_x86_64": (2, 12), "manylinux2014_x86_64": (2, 17)}
    if platform in legacy:
        return legacy[platform] <= MAX_GLIBC
    parts = platform.split("_")
    if len(parts) == 5 and parts[0] == "manylinux" and platform.endswith("_x86_64"):
        return (int(parts[1]), int(parts[2])) <= MAX_GLIBC
    return False


def stage_project(into: Path, requirements: list[str], deps: str) -> None:
    """A copy of the Chalice project with `functions`, `shared` and the requirements in vendor/."""
    shutil.copy2(PROJECT / "app.py", into / "app.py")
    shutil.copytree(PROJECT / ".chalice", into / ".chalice", ignore=shutil.ignore_patterns("deployments"))
    vendor = into / "vendor"
    for package in FIRST_PARTY:
        shutil.copytree(ROOT / package, vendor / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".chalice"))
    requirements_file = into / REQUIREMENTS  # not requirements.txt: vendor/ already holds them
    requirements_file.write_text("".join(f"{line}\n" for line in requirements))
    if deps == "index":
        vendor_from_index(requirements_file, vendor)
    else:
        vendor_from_environment(requirements, vendor)


def chalice_package(project: Path, out: Path, stage: str) -> None:
    """Run `chalice package` (CloudFormation/SAM, JSON) with the merge template."""
    chalice = Path(sys.executable).with_name("chalice")
    command = [
        str(chalice), "--project-dir", str(project), "package", "--pkg-format", "cloudformation",
        "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(out),
    ]
    env = dict(os.environ)
    # The template names no region (it uses AWS::Region); Chalice only wants one configured.
    if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    done = subprocess.run(command, check=False, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise PackagingError(f"chalice package failed: {done.stderr.strip() or done.stdout.strip()}")


def package(out: Path, *, stage: str = "dev", deps: str = "index") -> Path:
    """Write sam.json, deployment.zip and lambda-requirements.txt into `out`; returns `out`."""
    requirements = lambda_requirements()
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="wavecom-package-") as tmp:
        project = Path(tmp)
        stage_project(project, requirements, deps)
        size = sum(f.stat().st_size for f in _files(project / "vendor"))
        if size > UNZIPPED_LIMIT:
            raise PackagingError(f"the code is {size // 2**20} MiB unzipped, over Lambda's 250 MiB")
        chalice_package(project, out, stage)
        shutil.copy2(project / REQUIREMENTS, out / REQUIREMENTS)
    return out


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def cmd_package(args: argparse.Namespace, settings: object) -> int:
    """`wavecom package`: write the SAM template and deployment zip into --out."""
    try:
        out = package(Path(args.out), stage=args.stage, deps=args.deps)
    except PackagingError as e:
        print(f"wavecom: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out / 'sam.json'}, {out / 'deployment.zip'} and {out / REQUIREMENTS}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `package` to the `wavecom` command."""
    p = sub.add_parser("package", help="package the Chalice app for API Gateway and Lambda (SAM template and zip)")
    p.add_argument("--out", required=True, help="directory for sam.json, deployment.zip and lambda-requirements.txt")
    p.add_argument("--stage", default="dev", help="the Chalice stage (default: %(default)s)")
    p.add_argument("--deps", choices=("index", "venv"), default="index",
                   help="where the third-party wheels come from: the package index, for Lambda's platform "
                        "(default), or this environment's installed files, offline, if built for it")
    p.set_defaults(func=cmd_package)
