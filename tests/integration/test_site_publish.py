"""`wavecom site publish` against S3 as moto emulates it in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from local.cli import main
from static_site.build import build
from static_site.publish import publish

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

BUCKET = "wavecom-dashboard-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    """An emulated S3 with one empty bucket; no real credentials or network are used."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_every_built_file_is_uploaded_with_its_content_type(s3: S3Client, tmp_path: Path) -> None:
    build(tmp_path)
    keys = publish(tmp_path, BUCKET, client=s3)
    assert keys[-1] == "index.html"
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert stored == set(keys) and "assets/js/app.js" in stored
    expected = {"index.html": "text/html; charset=utf-8", "assets/app.css": "text/css; charset=utf-8",
                "assets/js/app.js": "text/javascript; charset=utf-8"}
    for key, content_type in expected.items():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ContentType"] == content_type
    assert s3.head_object(Bucket=BUCKET, Key="index.html")["CacheControl"] == "no-cache"
    body = s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read()
    assert body == (tmp_path / "index.html").read_bytes()


def test_the_command_builds_with_an_api_base_and_publishes_under_a_prefix(s3: S3Client, tmp_path: Path) -> None:
    out = str(tmp_path / "site")
    assert main(["site", "build", "--out", out, "--api-base", "https://api.example.com"]) == 0
    assert main(["site", "publish", "--bucket", BUCKET, "--prefix", "/dash/", "--out", out]) == 0
    html = s3.get_object(Bucket=BUCKET, Key="dash/index.html")["Body"].read().decode()
    assert 'content="https://api.example.com"' in html


def test_publishing_without_a_build_says_what_to_do(s3: S3Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "publish", "--bucket", BUCKET, "--out", str(tmp_path / "nothing")]) == 2
    assert "wavecom site build" in capsys.readouterr().err


def test_an_upload_the_service_refuses_is_reported(s3: S3Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path)
    assert main(["site", "publish", "--bucket", "no-such-bucket", "--out", str(tmp_path)]) == 1
    assert "no-such-bucket" in capsys.readouterr().err
