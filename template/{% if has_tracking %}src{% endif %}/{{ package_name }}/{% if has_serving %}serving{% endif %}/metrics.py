"""The service's Prometheus metrics, in a registry of its own, for `/metrics`."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# For the annotation only: the server makes its metrics before it imports the
# model's code (MLflow, scikit-learn), which takes seconds.
if TYPE_CHECKING:
    from .model import Served

# The paths that get their own label in the request metrics; others share one.
PATHS = {"/health", "/ready", "/predict", "/model", "/metrics"}
# Likewise methods: a client names any, and each label value is a series kept for good.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
MEDIA_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Requests, latency, rows scored, and which model and scorer serve."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests, by path, method and status code",
            ["path", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by path",
            ["path"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.refused = Counter(
            "http_refused",
            "Requests refused or connections closed by the HTTP limits, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.rows = Counter(
            "predicted_rows", "Rows scored by /predict", registry=self.registry
        )
        self.model = Gauge(
            "model_info",
            "The model served: 1 for its name, version and alias",
            ["name", "version", "alias"],
            registry=self.registry,
        )
        self.scorer = Gauge(
            "model_scorer_info",
            "Which code scores /predict: 1 for numpy (the fast path) or "
            "scikit-learn, and why",
            ["scorer", "reason"],
            registry=self.registry,
        )
        self.threads = Gauge(
            "model_scorer_threads",
            "Threads the model may score one request with (serving.threads)",
            registry=self.registry,
        )

    def serving(self, served: "Served") -> None:
        """Label the model and scorer served; one series each, so a swap replaces it."""
        champion = served.champion
        self.model.clear()
        self.model.labels(champion.name, champion.version, champion.alias).set(1)
        self.scorer.clear()
        self.scorer.labels(served.scorer.path, served.scorer.reason).set(1)
        self.threads.set(served.scorer.threads)

    def gauge(self, name: str, description: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped, for what a start-up hook adds to the service."""
        Gauge(name, description, registry=self.registry).set_function(read)

    def exposition(self) -> bytes:
        """Every metric, in Prometheus's text format."""
        return generate_latest(self.registry)

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        label = path if path in PATHS else "other"
        verb = method if method in METHODS else "other"
        self.requests.labels(label, verb, str(status)).inc()
        self.latency.labels(label).observe(seconds)
