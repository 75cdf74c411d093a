"""Every Prometheus metric of the services, defined in one place.

Labels take values from small fixed sets (route templates, channels, outcomes, queue names):
never a job id, a request id, a recipient or a message.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from shared import probes
from shared.bootstrap import Deps
from shared.clock import now
from shared.errors import BrokerUnavailable, StoreError

log = logging.getLogger("wavecom.metrics")

HTTP_REQUESTS = Counter(
    "wavecom_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "wavecom_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
JOBS = Counter(
    "wavecom_jobs",
    "Job messages a worker finished handling, by outcome.",
    ["outcome"],
)
RETRIES = Counter(
    "wavecom_retries",
    "Delivery retries scheduled after a transient provider failure, by channel.",
    ["type"],
)
PROVIDER_LATENCY = Histogram(
    "wavecom_provider_duration_seconds",
    "Time a provider took to answer one delivery attempt, by channel, provider and result.",
    ["type", "provider", "result"],
)

# What the consumer records for a message besides the delivery outcomes (shared.delivery.Outcome).
DEAD_LETTERED = "dead_lettered"
REQUEUED = "requeued"

# The HTTP methods counted under their own name; anything else is "other", so a client
# sending made-up methods cannot grow the number of series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The `method` label of an HTTP method."""
    return method if method in KNOWN_METHODS else "other"


class BacklogCollector:
    """Gauges read at scrape time: queue depths (broker) and the oldest waiting job's age (store).

    A service that is down never fails the scrape: its gauges read NaN and a warning is logged.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def collect(self) -> Iterator[Metric]:
        """The gauges, measured now."""
        depth = GaugeMetricFamily(
            "wavecom_queue_messages", "Messages ready in a queue (main, delay, dead-letter).", labels=["queue"]
        )
        try:
            depths: dict[str, float] = dict(probes.queue_depths(self.deps))
        except BrokerUnavailable as e:
            log.warning("queue depth not measured", extra={"error": str(e)})
            depths = {self.deps.publisher.topology.queue: math.nan, self.deps.publisher.topology.dead: math.nan}
        for queue, count in depths.items():
            depth.add_metric([queue], count)
        yield depth
        age = GaugeMetricFamily(
            "wavecom_oldest_pending_job_age_seconds",
            "Age of the oldest job not yet sent (pending, queued or retrying); 0 when none waits.",
        )
        try:
            since = probes.oldest_waiting_since(self.deps)
            age.add_metric([], 0.0 if since is None else max(0.0, (now() - since).total_seconds()))
        except StoreError as e:
            log.warning("oldest pending job age not measured", extra={"error": str(e)})
            age.add_metric([], math.nan)
        yield age
