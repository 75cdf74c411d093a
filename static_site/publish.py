"""Uploading the built site to an S3 bucket, each file with its proper Content-Type."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from static_site.build import content_type

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


def cache_control(key: str) -> str:
    """HTML is checked on every visit; assets (not fingerprinted) may be reused for 5 minutes."""
    return "no-cache" if key.endswith(".html") else "public, max-age=300"


def object_key(prefix: str, relative: Path) -> str:
    """The S3 key of a site file under an optional prefix (`site/v2` -> `site/v2/index.html`)."""
    clean = prefix.strip("/")
    return f"{clean}/{relative.as_posix()}" if clean else relative.as_posix()


def publish(site: Path, bucket: str, *, prefix: str = "", client: S3Client | None = None) -> list[str]:
    """Upload every file of the built site in `site`; returns the keys written."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no built site in {site}: run `wavecom site build` first")
    s3: S3Client = client or boto3.client("s3")
    keys: list[str] = []
    # index.html last: a visitor never gets a page whose assets are not uploaded yet.
    files = sorted((p for p in site.rglob("*") if p.is_file()), key=lambda p: (p.name == "index.html", str(p)))
    for path in files:
        key = object_key(prefix, path.relative_to(site))
        s3.upload_file(
            str(path),
            bucket,
            key,
            ExtraArgs={"ContentType": content_type(path), "CacheControl": cache_control(key)},
        )
        keys.append(key)
    return keys
