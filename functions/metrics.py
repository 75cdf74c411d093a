"""GET /metrics: the process's metrics and the backlog gauges, in Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from functions.http import Request, Response
from shared.bootstrap import Deps
from shared.metrics import BacklogCollector


class _Scrape:
    """Several collectors read as one: the process-wide registry and this scrape's gauges.

    The backlog gauges need the handler's dependencies, so they are collected per request
    instead of being registered once in the process-wide registry.
    """

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        """Every metric of every collector."""
        for collector in self._collectors:
            yield from collector.collect()


def handle(request: Request, deps: Deps) -> Response:
    """The text exposition format (version 0.0.4), which every Prometheus server reads."""
    body = generate_latest(_Scrape(REGISTRY, BacklogCollector(deps)))
    return Response(200, body, {"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
