"""infra/nginx: the gateway's settings agree with the API's limits, routes and the site build."""

from __future__ import annotations

import re
from pathlib import Path

from shared.validation import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES
from static_site.build import CONTENT_TYPES

NGINX = Path(__file__).resolve().parents[2] / "infra" / "nginx"
CONF = (NGINX / "nginx.conf").read_text()


def size(value: str) -> int:
    """An nginx size (`1m`, `16m`, `512k`, `100`) in bytes."""
    units = {"k": 1024, "m": 1024 * 1024, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


def location(name: str) -> str:
    """The body of one location block (no nested blocks in this file's locations but `if`)."""
    start = CONF.index(f"location {name} {{")
    end, depth = CONF.index("{", start), 0
    while True:
        depth += {"{": 1, "}": -1}.get(CONF[end], 0)
        if depth == 0:
            break
        end += 1
    return CONF[start:end]


def test_the_gateway_body_limits_are_the_api_limits() -> None:
    default = re.search(r"^    client_max_body_size (\S+);", CONF, re.MULTILINE)
    assert default is not None and size(default.group(1)) == MAX_BODY_BYTES
    batch = re.search(r"client_max_body_size (\S+);", location("= /api/notifications/batch"))
    assert batch is not None and size(batch.group(1)) == MAX_BATCH_BODY_BYTES


def test_the_gateway_serves_site_files_with_the_types_the_build_names() -> None:
    block = re.search(r"types \{(.*?)\}", CONF, re.DOTALL)
    assert block is not None
    served = {f".{ext}": mime for mime, ext in re.findall(r"(\S+) (\w+);", block.group(1))}
    assert served == {ext: mime.split(";")[0] for ext, mime in CONTENT_TYPES.items()}


def test_metrics_and_readiness_are_not_proxied_to_the_public() -> None:
    for path in ("= /metrics", "= /ready"):
        body = location(path)
        assert "return 404;" in body and "proxy_pass" not in body and "api-proxy.conf" not in body


def test_a_post_is_sent_to_another_replica_only_with_an_idempotency_key() -> None:
    default = re.search(r"^    proxy_next_upstream ([^;]+);", CONF, re.MULTILINE)
    assert default is not None and "non_idempotent" not in default.group(1)
    assert "proxy_next_upstream" not in (NGINX / "api-proxy.conf").read_text()
    keyed = location("/_keyed/")
    assert "internal;" in keyed and "non_idempotent" in keyed
    for create in ("= /api/notifications", "= /api/notifications/batch"):
        assert 'if ($http_idempotency_key != "")' in location(create)
        assert "rewrite ^ /_keyed$uri last;" in location(create)


def test_every_api_replica_has_passive_health_check_parameters() -> None:
    servers = re.findall(r"^server (.+);", (NGINX / "api-servers.conf").read_text(), re.MULTILINE)
    assert servers
    for server in servers:
        assert re.search(r"\bmax_fails=[2-9]\b", server) and re.search(r"\bfail_timeout=\d+s\b", server)


def test_the_request_id_rule_is_the_api_rule() -> None:
    from shared import context

    rule = re.search(r'"~\^(\[A-Za-z0-9\._-\]\{1,128\})\$" \$http_x_request_id;', CONF)
    assert rule is not None
    assert context.is_valid("order-7781") and not context.is_valid("bad id")
    assert re.fullmatch(rule.group(1), "order-7781") and not re.fullmatch(rule.group(1), "bad id")
    assert re.fullmatch(rule.group(1), "a" * 128) and not re.fullmatch(rule.group(1), "a" * 129)
    assert context.is_valid("a" * 128) and not context.is_valid("a" * 129)


def test_the_access_log_names_routes_never_paths_queries_or_keys() -> None:
    log_format = CONF[CONF.index("log_format"):CONF.index("access_log")]
    for leak in ("$request_uri", "$uri", "$args", "$query_string", "$request\"", "$http_authorization"):
        assert leak not in log_format
    assert "$wavecom_route" in log_format and "$wavecom_request_id" in log_format


def gateway_route(request_uri: str) -> str:
    """The route nginx's `$wavecom_route` map gives a request URI (first matching regex)."""
    block = CONF[CONF.index("map $request_uri $wavecom_route {"):]
    block = block[:block.index("}\n")]
    for pattern, value in re.findall(r'^\s*"~([^"]+)" "([^"]+)";', block, re.MULTILINE):
        if re.search(pattern, request_uri):
            return value
    return "unmatched"


def test_the_access_log_route_names_follow_the_api_route_table() -> None:
    from functions.routes import ROUTES

    for route in ROUTES:
        if route.path in ("/ready", "/metrics"):  # answered by the gateway itself, never proxied
            continue
        path = route.path.replace("{id}", "6b05a10ad2944b3343f56957")
        assert gateway_route(path) == route.path, route.path
        assert gateway_route(path + "?recipient=%2B2348012345678") == route.path
    assert gateway_route("/") == "/" and gateway_route("/assets/js/app.js") == "site"
    assert gateway_route("/wp-login.php?user=x") == "unmatched"
