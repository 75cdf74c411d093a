"""Renders the dashboard's Jinja templates and copies its assets into plain static files."""

from __future__ import annotations

import json
import mimetypes
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.states import STATE_RULES, Status

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
ASSETS = HERE / "assets"
DEFAULT_OUT = HERE / "_build"
# The page makes at most one request per this many milliseconds, its polls taking turns.
POLL_MS = 1000
# Jobs the page asks for at a time (the API gives up to 100): a screenful and more, and half the
# cost of each poll of the list (wavecom bench --mode dashboard measures it).
PAGE_SIZE = 50
CHANNELS = ("email", "sms", "push")
# Set explicitly: a host's mimetypes table may lack or misname these, and browsers refuse
# module scripts served with the wrong type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


def content_type(path: Path) -> str:
    """The Content-Type a site file is served and published with."""
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def api_origin(api_base: str) -> str:
    """The origin of an absolute API base URL, or '' when the API is on the page's own origin."""
    parts = urlsplit(api_base)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return ""


def check_api_base(api_base: str) -> str:
    """The API base without a trailing slash; ValueError unless it is '', a path or an http(s) URL."""
    base = api_base.strip().rstrip("/")
    if base and not (base.startswith("/") and not base.startswith("//")) and not api_origin(base):
        raise ValueError(f"the API base must be empty, a path like /prod or an http(s) URL, got {api_base!r}")
    return base


def sources() -> list[Path]:
    """Every file the build reads."""
    return sorted(p for root in (TEMPLATES, ASSETS) for p in root.rglob("*") if p.is_file())


def is_stale(out_dir: Path = DEFAULT_OUT) -> bool:
    """Whether `out_dir` lacks the site or is older than one of its sources."""
    index = out_dir / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    return any(p.stat().st_mtime > built for p in sources())


def build(out_dir: Path = DEFAULT_OUT, api_base: str = "", poll_ms: int = POLL_MS) -> list[Path]:
    """Render the site into `out_dir` (replacing what was there); returns the files written."""
    base = check_api_base(api_base)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    context = {
        "api_base": base,
        "api_origin": api_origin(base),
        "poll_ms": poll_ms,
        "page_size": PAGE_SIZE,
        "statuses": [s.value for s in Status],
        # Which statuses allow which action, from the one state machine, for the page's buttons.
        "states": json.dumps(STATE_RULES, separators=(",", ":")),
        "channels": CHANNELS,
    }
    # Written beside the target and swapped in, so a server never reads a half-built site.
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(ASSETS, staging / "assets")
    for template in sorted(TEMPLATES.glob("*.html")):
        html = env.get_template(template.name).render(**context)
        (staging / template.name).write_text(html, encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())
