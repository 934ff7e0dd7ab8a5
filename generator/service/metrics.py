"""The service's Prometheus metrics, in a registry of its own (never the process-global one).

Names follow Prometheus conventions: `mu_` prefix, `_total` counters, base units
(seconds). What is cheap to count is counted on the request path; what needs a
query (the outbox) is read only when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Decisions take tens of microseconds plus a group commit; the buckets resolve 0.1–250 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """Every metric the service exports."""

    def __init__(
        self,
        *,
        outbox: Callable[[], Mapping[str, int]],
        log_seq: Callable[[], int],
        healthy: Callable[[], bool],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "mu_decisions", "Decisions answered, by outcome.", ["outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            "mu_requests_refused", "Requests answered without a decision, by HTTP status.",
            ["status"], registry=self.registry,
        )
        self.latency = Histogram(
            "mu_decision_seconds", "Time from request to durable answer.",
            buckets=_BUCKETS, registry=self.registry,
        )
        self.reloads = Counter(
            "mu_release_loads", "Releases verified and loaded.", registry=self.registry
        )
        self.release = Gauge(
            "mu_release_info", "The loaded release (1) by receipt digest and sequence.",
            ["release", "sequence"], registry=self.registry,
        )
        ready = Gauge("mu_ready", "1 while /v1/health answers 200.", registry=self.registry)
        ready.set_function(lambda: 1.0 if healthy() else 0.0)
        seq = Gauge("mu_decision_log_seq", "Sequence number of the last log line.",
                    registry=self.registry)
        seq.set_function(lambda: float(log_seq()))
        self._outbox = outbox
        self._outbox_gauge = Gauge(
            "mu_outbox_deliveries", "Deliveries in the outbox, by state.", ["state"],
            registry=self.registry,
        )

    def set_release(self, digest: str | None, sequence: int | None) -> None:
        """Show `digest` as the one loaded release (none: no release)."""
        self.release.clear()
        if digest is not None:
            self.release.labels(release=digest, sequence=str(sequence)).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric, the outbox read now."""
        try:
            counts = self._outbox()
        except Exception:  # a busy or damaged outbox must not break the scrape
            counts = {}
        for state in ("pending", "inflight", "delivered", "dead", "held"):
            self._outbox_gauge.labels(state=state).set(counts.get(state, 0))
        return generate_latest(self.registry)
