"""The benchmark's pure parts: reading answers, figures, and where it may point."""

from __future__ import annotations

import json

import pytest

from local.bench.load import Plan, _accepted
from local.bench.report import per_second, percentiles
from local.bench.target import is_loopback, redacted


def batch_plan() -> Plan:
    return Plan(url="http://127.0.0.1:4200", key="k", mode="batch", batch_size=3)


def test_a_batch_answer_gives_the_ids_it_accepted_and_counts_the_items_it_refused():
    body = {"accepted": 2, "rejected": 1, "items": [
        {"index": 0, "id": "6b05b08c96977251ccf5cc28", "status": "queued"},
        {"index": 1, "errors": [{"field": "recipient", "message": "must be an E.164 phone number"}]},
        {"index": 2, "id": "6b05b08c96977251ccf5cc29", "status": "queued"},
    ]}
    ids, refused = _accepted(batch_plan(), 207, json.dumps(body).encode())
    assert ids == ["6b05b08c96977251ccf5cc28", "6b05b08c96977251ccf5cc29"] and refused == 1


def test_a_batch_answer_that_is_not_a_batch_result_accepts_nothing():
    assert _accepted(batch_plan(), 413, b'{"type": "urn:wavecom:problem:payload-too-large"}') == ([], 0)


def test_a_single_create_is_accepted_only_with_201():
    plan = Plan(url="http://127.0.0.1:4200", key="k")
    assert _accepted(plan, 201, b'{"id": "6b05b08c96977251ccf5cc28"}') == (["6b05b08c96977251ccf5cc28"], 0)
    assert _accepted(plan, 400, b"{}") == ([], 1)


def test_percentiles_interpolate_between_ranks():
    figures = percentiles([float(v) for v in range(1, 101)])
    assert figures["p50"] == 50.5 and figures["p99"] == 99.0 and figures["max"] == 100.0
    assert percentiles([])["p50"] is None


def test_per_second_counts_whole_seconds_after_the_start_and_drops_the_rest():
    assert per_second([10.0, 10.5, 11.2, 13.9, 9.0, 20.0], 10.0, 4) == [2, 1, 0, 1]


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:4200", True), ("http://localhost:4200", True), ("mongodb://127.0.0.1:27017/", True),
    ("http://[::1]:4200", True), ("http://api.example.com", False), ("amqp://10.0.0.5:5672/%2F", False),
])
def test_only_services_on_this_machine_are_loopback(url, local):
    assert is_loopback(url) is local


def test_credentials_never_reach_the_report():
    assert redacted("amqp://guest:secret@127.0.0.1:5672/%2F") == "amqp://127.0.0.1:5672/%2F"
