"""What `wavecom package` puts on Lambda: requirements derived from pyproject and the imports."""

import ast

import pytest

from local import package
from local.package import PackagingError


def test_the_lambda_requirements_are_the_pins_functions_and_shared_import():
    requirements = dict(line.split("==") for line in package.lambda_requirements())
    pins = {name: str(r.specifier).removeprefix("==") for name, r in package.pinned_dependencies().items()}
    for name in ("pymongo", "pika", "pydantic", "tenacity", "python-json-logger", "prometheus-client",
                 "email-validator", "phonenumbers", "pyrate-limiter"):
        assert requirements[name] == pins[name]
    # What only the local runner, the dashboard build or the benchmark use stays out, and so
    # does Chalice, whose runtime Chalice adds to the zip itself.
    for name in ("nx-27017", "granian", "matplotlib", "rich", "jinja2", "chalice", "packaging"):
        assert name not in requirements
    # Their own dependencies come along, pinned to what the tests ran against.
    assert "pydantic-core" in requirements and "dnspython" in requirements


def test_imports_under_type_checking_are_not_run_time_requirements():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import pika.spec\n"
        "if TYPE_CHECKING:\n"
        "    from mypy_boto3_ses.client import SESClient\n"
        "else:\n"
        "    import tenacity\n"
        "def f():\n"
        "    from prometheus_client import Counter\n"
    )
    assert package._imports(tree) == {"typing", "pika", "tenacity", "prometheus_client"}


def test_a_first_party_package_the_lambda_does_not_carry_is_refused(monkeypatch):
    monkeypatch.setattr(package, "imported_modules", lambda: {"shared", "local"})
    with pytest.raises(PackagingError, match="`local`"):
        package.lambda_requirements()


@pytest.mark.parametrize("module", ["pytest", "no_such_module_anywhere"])
def test_an_import_no_runtime_dependency_provides_is_refused(monkeypatch, module):
    # pytest is installed, but only as a dev dependency: the Lambda would not have it.
    monkeypatch.setattr(package, "imported_modules", lambda: {"shared", "pika", module})
    with pytest.raises(PackagingError, match=module):
        package.lambda_requirements()


@pytest.mark.parametrize(("tag", "runs"), [
    ("py3-none-any", True),
    ("py2.py3-none-any", True),
    ("py2-none-any", False),
    ("cp311-cp311-manylinux_2_17_x86_64", True),
    ("cp311-cp311-manylinux2014_x86_64", True),
    ("cp311-abi3-manylinux_2_26_x86_64", True),
    ("cp311-cp311-manylinux_2_28_x86_64", False),  # newer glibc than Amazon Linux 2's
    ("cp311-cp311-manylinux_2_17_aarch64", False),
    ("cp312-cp312-manylinux_2_17_x86_64", False),
    ("cp311-cp311-macosx_11_0_arm64", False),
])
def test_only_wheels_built_for_the_lambda_platform_are_copied_from_this_environment(tag, runs):
    assert package._runs_on_lambda(tag) is runs
