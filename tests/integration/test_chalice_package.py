"""`wavecom package`: the SAM template and deployment zip `sam deploy` takes, built here offline.

Never deployed from here: these check the artifacts themselves, the template against the SAM
transform and CloudFormation's schemas (cfn-lint), the zip by running its app without this
environment's site-packages.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cfnlint.api import lint

from local import package
from local.cli import main
from shared.config import Settings
from shared.model import Priority
from shared.topology import Topology

pytestmark = pytest.mark.slow  # a few seconds: stages ~60 MB of code and zips it


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """The app packaged once for this module; third-party code copied from this environment."""
    out = tmp_path_factory.mktemp("package") / "out"
    assert main(["package", "--out", str(out), "--deps", "venv"]) == 0
    return out


@pytest.fixture(scope="module")
def template(packaged):
    """The generated SAM template."""
    return json.loads((packaged / "sam.json").read_text())


def test_the_api_definition_has_every_route_of_the_table_and_no_other(template):
    from functions.routes import ROUTES

    api = template["Resources"]["RestAPI"]
    paths = api["Properties"]["DefinitionBody"]["paths"]
    declared = {(path, method.upper()) for path, operations in paths.items() for method in operations}
    assert declared == {(route.path, route.method) for route in ROUTES}
    for operations in paths.values():
        for operation in operations.values():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert "${APIHandler.Arn}" in integration["uri"]["Fn::Sub"]
    assert template["Resources"]["APIHandler"]["Properties"]["Handler"] == "app.app"


def test_webhooks_is_a_function_of_its_own_fed_by_the_webhooks_queue(template):
    webhooks = template["Resources"]["Webhooks"]
    assert webhooks["Properties"]["Handler"] == "app.deliver_webhooks"
    source = webhooks["Properties"]["Events"]["WebhookQueue"]
    assert source["Type"] == "MQ" and source["Properties"]["Queues"] == [{"Fn::Sub": "${QueueName}.webhooks"}]
    assert Topology(Settings().queue).webhooks == f"{Settings().queue}.webhooks"
    # A delivery takes up to 5 s: a batch of them, made concurrently, fits its timeout.
    assert webhooks["Properties"]["Timeout"] >= 30


def test_dispatch_is_fed_by_one_amazon_mq_event_source_per_lane_the_functions_publish_to(template):
    resources = template["Resources"]
    dispatch = resources["Dispatch"]
    assert dispatch["Properties"]["Handler"] == "app.dispatch_messages"
    events = dispatch["Properties"]["Events"]
    assert sorted(events) == ["HighLane", "LowLane", "NormalLane"]
    assert {name: event["Properties"]["Queues"] for name, event in events.items()} == {
        "HighLane": [{"Fn::Sub": "${QueueName}.high"}], "NormalLane": [{"Ref": "QueueName"}],
        "LowLane": [{"Fn::Sub": "${QueueName}.low"}]}
    topology = Topology(Settings().queue)  # the lanes the functions publish to, from the same name
    assert [topology.lane(p) for p in (Priority.HIGH, Priority.LOW)] == [f"{Settings().queue}.high",
                                                                         f"{Settings().queue}.low"]
    for event in events.values():
        source = event["Properties"]
        assert event["Type"] == "MQ" and source["Broker"] == {"Ref": "BrokerArn"}
        assert source["SourceAccessConfigurations"] == [{"Type": "BASIC_AUTH", "URI": {"Ref": "BrokerSecretArn"}}]
    assert events["HighLane"]["Properties"]["BatchSize"] == {"Ref": "HighLaneBatchSize"}
    assert events["HighLane"]["Properties"]["MaximumBatchingWindowInSeconds"] == 0  # no wait for a batch to fill
    assert events["LowLane"]["Properties"]["BatchSize"] == {"Ref": "DispatchBatchSize"}
    assert template["Parameters"]["QueueName"]["Default"] == Settings().queue
    # The functions publish to the queue the event source reads: WAVECOM_QUEUE comes from the
    # same parameter, through Globals, which a function's own variable would override.
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["WAVECOM_QUEUE"] == {"Ref": "QueueName"}
    assert {"MONGODB_URI", "RABBITMQ_URL", "MONGODB_DB", "WAVECOM_SNS_TOPIC_ARNS"} <= env.keys()
    # Every function hashes recipients under one key, resolved from the app secret like the URIs.
    for secret in ("MONGODB_URI", "WAVECOM_HASH_KEY"):
        assert {"Ref": "AppSecretArn"} in env[secret]["Fn::Join"][1], secret
        assert f":SecretString:{secret}}}}}" in env[secret]["Fn::Join"][1], secret
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert not own.keys() & env.keys(), f"{name} overrides {own.keys() & env.keys()}"


def test_the_event_source_can_read_the_broker_and_its_secret_before_it_starts(template):
    resources = template["Resources"]
    dispatch = resources["Dispatch"]
    policy = resources[dispatch["DependsOn"][0]]
    assert policy["Type"] == "AWS::IAM::Policy"
    # SAM adds these only to roles it makes; Chalice makes the role, so the template adds them.
    (role,) = policy["Properties"]["Roles"]
    assert dispatch["Properties"]["Role"] == {"Fn::GetAtt": [role["Ref"], "Arn"]}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    granted = {action: s["Resource"] for s in statements for action in [s["Action"]] if isinstance(action, str)}
    assert granted["mq:DescribeBroker"] == {"Ref": "BrokerArn"}
    assert granted["secretsmanager:GetSecretValue"] == {"Ref": "BrokerSecretArn"}


def test_a_sweeper_runs_every_minute(template):
    sweeper = template["Resources"]["Sweeper"]["Properties"]
    assert sweeper["Handler"] == "app.sweep_outbox"
    assert [e["Properties"]["Schedule"] for e in sweeper["Events"].values()] == ["rate(1 minute)"]


def test_the_template_passes_the_sam_transform_and_cloudformation_schemas(packaged):
    assert lint((packaged / "sam.json").read_text()) == []


def test_the_zip_holds_the_app_functions_shared_and_their_requirements_only(packaged):
    names = set(zipfile.ZipFile(packaged / "deployment.zip").namelist())
    assert {"app.py", "chalice/app.py", "functions/create.py", "functions/dispatch.py", "shared/store.py",
            "shared/delivery.py", "pymongo/__init__.py", "pika/__init__.py", "pydantic/__init__.py"} <= names
    app = zipfile.ZipFile(packaged / "deployment.zip").read("app.py")
    assert app == (package.PROJECT / "app.py").read_bytes()
    tops = {name.split("/")[0] for name in names}
    assert not tops & {"local", "static_site", "tests", "granian", "matplotlib", "rich", "nx_27017", "jinja2"}
    assert not any("__pycache__" in name or name.startswith("functions/.chalice") for name in names)
    requirements = (packaged / package.REQUIREMENTS).read_text().split()
    assert f"pymongo{package.pinned_dependencies()['pymongo'].specifier}" in requirements


def test_the_packaged_app_runs_from_the_zip_alone(packaged, tmp_path):
    zipfile.ZipFile(packaged / "deployment.zip").extractall(tmp_path)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MONGODB_URI": "mongodb://127.0.0.1:1/",  # nothing listens: the store is "down"
        "WAVECOM_STORE_TIMEOUT_MS": "100",
        "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:1/%2F",
    }
    # -S: no site-packages, so every import must come from the zip (the Lambda runtime adds
    # nothing the zip relies on).
    done = subprocess.run([sys.executable, "-S", "-c", SMOKE], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["health"] == 200
    assert result["dispatch"] == {"outcomes": []}
    assert all(Path(f).is_relative_to(tmp_path) for f in result["files"])


SMOKE = """
import json
import app, functions, pika, pydantic_core, pymongo

class Context:
    def get_remaining_time_in_millis(self):
        return 60000

event = {
    "resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {"accept": "application/json"},
    "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
    "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/dev/health", "stage": "dev"},
}
health = app.app(event, Context())
batch = app.dispatch_messages({"eventSource": "aws:rmq", "rmqMessagesByQueue": {}}, Context())
files = [m.__file__ for m in (app, functions, pika, pydantic_core, pymongo)]
print(json.dumps({"health": health["statusCode"], "dispatch": batch, "files": files}))
"""
