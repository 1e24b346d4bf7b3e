"""Prometheus metrics for the server: requests, latency, batch sizes, errors.

Each app gets its own registry so several apps (e.g. in tests) never collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embedstack._optional import require


@dataclass
class ServerMetrics:
    """Prometheus counters and histograms for one server, in their own registry."""

    registry: object = field(init=False)

    def __post_init__(self) -> None:
        prom = require("prometheus_client", "server", "the /metrics endpoint")
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(
            "embedstack_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "embedstack_request_seconds",
            "Request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.batch_size = prom.Histogram(
            "embedstack_batch_texts",
            "Texts per model forward batch (dynamic batching).",
            ["model"],
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.errors = prom.Counter(
            "embedstack_errors_total",
            "Error responses by type.",
            ["type"],
            registry=self.registry,
        )
        self._prom = prom

    def render(self) -> tuple[bytes, str]:
        """The metrics in Prometheus text format, with its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
