"""The request id: which ones are accepted, how it travels, and where it shows."""

import logging
import re
import threading

import pytest

from functions.http import Request, Response
from functions.observe import observed
from functions.routes import route_template
from shared import context
from shared.broker import _with_request_id
from shared.logs import RequestIdFilter
from shared.metrics import method_label

HEX32 = re.compile(r"[0-9a-f]{32}")


def make_record(**extra):
    record = logging.LogRecord("wavecom.test", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("value", ["a", "req-1.2_3", "A" * 128, "6b05a123e5c6fe8521f2f075"])
def test_a_valid_request_id_is_kept(value):
    assert context.accept(value) == value


@pytest.mark.parametrize("value", [None, "", "A" * 129, "has space", "new\nline", "é", "a/b", "a;b"])
def test_an_invalid_or_missing_request_id_is_replaced_by_a_fresh_one(value):
    made = context.accept(value)
    assert HEX32.fullmatch(made) and made != value


def test_fresh_request_ids_differ():
    assert context.new_request_id() != context.new_request_id()


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"x-request-id": "abc"}, "abc"),
        ({"x-request-id": b"abc"}, "abc"),
        ({"x-request-id": "not valid!"}, None),
        ({"x-request-id": 42}, None),
        ({}, None),
        (None, None),
    ],
)
def test_a_queue_message_yields_its_request_id_only_when_valid(headers, expected):
    assert context.from_message(headers) == expected


def test_a_bound_request_id_is_restored_afterwards_and_stays_in_its_thread():
    seen_elsewhere = []
    with context.bound("outer"):
        with context.bound("inner"):
            assert context.current() == "inner"
            thread = threading.Thread(target=lambda: seen_elsewhere.append(context.current()))
            thread.start()
            thread.join()
        assert context.current() == "outer"
    assert context.current() is None and seen_elsewhere == [None]


def test_the_log_filter_adds_the_current_request_id_and_nothing_when_none_is_current():
    log_filter = RequestIdFilter()
    with context.bound("req-1"):
        inside = make_record()
        assert log_filter.filter(inside) is True
    outside = make_record()
    assert log_filter.filter(outside) is True
    assert inside.request_id == "req-1" and not hasattr(outside, "request_id")


def test_the_log_filter_keeps_a_request_id_the_caller_gave():
    record = make_record(request_id="given")
    with context.bound("current"):
        RequestIdFilter().filter(record)
    assert record.request_id == "given"


def test_a_published_message_carries_the_current_request_id_unless_it_has_one():
    assert _with_request_id({"a": 1}) == {"a": 1}
    with context.bound("req-1"):
        assert _with_request_id({"a": 1}) == {"a": 1, "x-request-id": "req-1"}
        assert _with_request_id({"x-request-id": "kept"}) == {"x-request-id": "kept"}


def test_an_answer_echoes_the_request_id_that_was_current_while_answering():
    seen = []

    def answer(request):
        seen.append(context.current())
        return Response(204, b"", {"X-Other": "1"})

    request = Request("GET", "/health", headers={"x-request-id": "req-7"})
    response = observed(request, "/health", answer)
    assert response.headers == {"X-Other": "1", "X-Request-Id": "req-7"}
    assert seen == ["req-7"] and context.current() is None


def test_an_answer_that_raises_leaves_no_request_id_behind():
    def answer(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        observed(Request("GET", "/health"), "/health", answer)
    assert context.current() is None


@pytest.mark.parametrize(
    "path,template",
    [
        ("/api/notifications", "/api/notifications"),
        ("/api/notifications/6b05a123e5c6fe8521f2f075", "/api/notifications/{id}"),
        ("/api/notifications/6b05a123e5c6fe8521f2f075/logs", "/api/notifications/{id}/logs"),
        ("/metrics", "/metrics"),
        ("/ready", "/ready"),
        ("/api/notifications/a/b/c", "unmatched"),
        ("/+2348012345678", "unmatched"),
    ],
)
def test_metrics_label_a_path_by_its_route_template_never_the_path_itself(path, template):
    assert route_template(path) == template


def test_made_up_http_methods_share_one_label():
    assert [method_label(m) for m in ("GET", "POST", "BREW", "X" * 50)] == ["GET", "POST", "other", "other"]
