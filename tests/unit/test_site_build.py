"""The static site build: plain files, configurable API base, nothing fetched from elsewhere."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from local.site import resolve
from shared.states import Status
from static_site.build import api_origin, build, check_api_base, content_type, is_stale


def test_the_build_writes_plain_html_css_and_javascript(tmp_path: Path) -> None:
    files = {p.relative_to(tmp_path / "site").as_posix() for p in build(tmp_path / "site")}
    assert "index.html" in files and "assets/app.css" in files and "assets/js/app.js" in files
    assert {Path(f).suffix for f in files} <= {".html", ".css", ".js"}


def test_the_api_base_defaults_to_the_same_origin(tmp_path: Path) -> None:
    build(tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert '<meta name="wavecom-api-base" content="">' in html
    assert "connect-src 'self';" in html


def test_an_absolute_api_base_is_written_and_allowed_by_the_content_policy(tmp_path: Path) -> None:
    build(tmp_path, api_base="https://api.example.com/prod/")
    html = (tmp_path / "index.html").read_text()
    assert '<meta name="wavecom-api-base" content="https://api.example.com/prod">' in html
    assert "connect-src 'self' https://api.example.com;" in html


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "//evil.example", "api.example.com", 'x"><script>'])
def test_an_api_base_that_is_not_a_path_or_http_url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_api_base(bad)


def test_api_origin_is_empty_for_a_path_prefix() -> None:
    assert api_origin("/prod") == "" and api_origin("http://127.0.0.1:4200/x") == "http://127.0.0.1:4200"


def test_the_page_loads_nothing_from_other_hosts(tmp_path: Path) -> None:
    build(tmp_path)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text()
            # The SVG namespace is an identifier, not a request.
            external = [u for u in re.findall(r"https?://[^\s\"')]+", text) if "www.w3.org/2000/svg" not in u]
            assert external == [], (path.name, external)
            assert "@import" not in text and "fonts.googleapis" not in text


def test_the_page_never_writes_data_as_html(tmp_path: Path) -> None:
    build(tmp_path)
    for script in (tmp_path / "assets" / "js").glob("*.js"):
        text = script.read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), script.name


def test_every_status_has_a_filter_a_counter_and_a_badge_style(tmp_path: Path) -> None:
    build(tmp_path)
    html = (tmp_path / "index.html").read_text()
    css = (tmp_path / "assets" / "app.css").read_text()
    for status in Status:
        assert f'<option value="{status.value}">' in html
        assert f'data-count="{status.value}"' in html
        assert f".badge-{status.value} " in css, status.value


def test_the_build_is_stale_when_a_source_is_newer(tmp_path: Path) -> None:
    assert is_stale(tmp_path)
    build(tmp_path)
    assert not is_stale(tmp_path)
    os.utime(tmp_path / "index.html", (0, 0))
    assert is_stale(tmp_path)


def test_content_types_are_the_ones_browsers_expect() -> None:
    assert content_type(Path("index.html")) == "text/html; charset=utf-8"
    assert content_type(Path("a/app.js")) == "text/javascript; charset=utf-8"
    assert content_type(Path("app.css")) == "text/css; charset=utf-8"


def test_url_paths_resolve_inside_the_site_only(tmp_path: Path) -> None:
    build(tmp_path / "site")
    (tmp_path / "secret.txt").write_text("x")
    assert resolve(tmp_path / "site", "/") == (tmp_path / "site" / "index.html").resolve()
    assert resolve(tmp_path / "site", "/assets/app.css") is not None
    assert resolve(tmp_path / "site", "/../secret.txt") is None
    assert resolve(tmp_path / "site", "/missing.js") is None
