"""Serving the built dashboard at `/` beside the API, on the same port."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shared.config import Settings
from static_site.build import DEFAULT_OUT, POLL_MS, content_type

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

API_PREFIXES = ("/api/", "/health")


def site_dir() -> Path:
    """Where the built site is: WAVECOM_SITE_DIR, or the build's default output."""
    return Path(os.environ.get("WAVECOM_SITE_DIR") or DEFAULT_OUT)


def ensure_built() -> Path:
    """Build the dashboard when its default build is missing or older than its sources."""
    from static_site.build import build, is_stale

    root = site_dir()
    if root == DEFAULT_OUT and is_stale(root):
        build(root)
        print(f"dashboard built into {root}", flush=True)
    return root


def resolve(root: Path, url_path: str) -> Path | None:
    """The file under `root` a URL path names (`/` is index.html), or None; never outside root."""
    relative = url_path.lstrip("/") or "index.html"
    if relative.endswith("/"):
        relative += "index.html"
    base = root.resolve()
    candidate = (base / relative).resolve()
    if candidate != base and base not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def with_site(app: WSGIApp, root: Path | None = None) -> WSGIApp:
    """Serve files of the built site for GET and HEAD; everything else goes to `app`."""

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method in ("GET", "HEAD") and not path.startswith(API_PREFIXES) and path != "/api":
            found = resolve(root or site_dir(), path)
            if found is not None:
                body = found.read_bytes()
                start_response("200 OK", [
                    ("Content-Type", content_type(found)),
                    ("Content-Length", str(len(body))),
                    # Not fingerprinted: ask every time, so a rebuilt site shows at once.
                    ("Cache-Control", "no-cache"),
                    ("X-Content-Type-Options", "nosniff"),
                ])
                return [b"" if method == "HEAD" else body]
        return app(environ, start_response)

    return serve


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    """`wavecom site build`: render the dashboard into plain files."""
    from static_site.build import build

    try:
        files = build(Path(args.out), api_base=args.api_base, poll_ms=args.poll_ms)
    except ValueError as e:
        print(f"wavecom: {e}", file=sys.stderr)
        return 2
    print(f"built {len(files)} files into {args.out} (API base: {args.api_base or 'same origin'})")
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """`wavecom site publish`: upload the built dashboard to an S3 bucket."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    from static_site.publish import publish

    try:
        keys = publish(Path(args.out), args.bucket, prefix=args.prefix)
    except FileNotFoundError as e:
        print(f"wavecom: {e}", file=sys.stderr)
        return 2
    except (Boto3Error, BotoCoreError, ClientError) as e:
        print(f"wavecom: the upload to s3://{args.bucket} failed: {e}", file=sys.stderr)
        return 1
    print(f"published {len(keys)} files to s3://{args.bucket}/{args.prefix.strip('/')}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `site build` and `site publish` to the `wavecom` command."""
    site = sub.add_parser("site", help="build or publish the static dashboard").add_subparsers(
        dest="site_command", required=True
    )
    build = site.add_parser("build", help="render static_site/ into plain HTML, CSS and JavaScript")
    build.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default: %(default)s)")
    build.add_argument("--api-base", default="", help="API base URL or path prefix (default: the page's own origin)")
    build.add_argument("--poll-ms", type=int, default=POLL_MS,
                       help="the page's polls take turns, one request per this many milliseconds (default: %(default)s)")
    build.set_defaults(func=cmd_build)
    publish = site.add_parser("publish", help="upload the built site to an S3 bucket")
    publish.add_argument("--bucket", required=True, help="the S3 bucket to upload to")
    publish.add_argument("--prefix", default="", help="key prefix inside the bucket (default: the bucket's root)")
    publish.add_argument("--out", default=str(DEFAULT_OUT), help="the built site (default: %(default)s)")
    publish.set_defaults(func=cmd_publish)
