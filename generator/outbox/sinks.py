"""Where deliveries go: SMTP, a webhook, a ledger file, or memory (tests, health checks).

A `Sink` (`protocol`) delivers one delivery or raises; the worker records the
error and retries later. The real sinks live in `network` (`SmtpSink`,
`WebhookSink`: a kept connection per thread) and `ledger` (`LedgerSink`:
idempotent appends, one fsync per batch); this module gathers them, and adds

- `RecordingSink`: renders as the real sink of the channel would, and keeps
  the result in memory; thread-safe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from mu.generator.outbox import render
from mu.generator.outbox.config import DeliveryConfig
from mu.generator.outbox.ledger import LedgerSink
from mu.generator.outbox.network import MAX_RESPONSE_BYTES, SmtpSink, WebhookSink
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.protocol import BatchSink, DeliveryError, Sink, ThreadBound

__all__ = [
    "MAX_RESPONSE_BYTES",
    "BatchSink",
    "DeliveryError",
    "LedgerSink",
    "Recorded",
    "RecordingSink",
    "Sink",
    "SmtpSink",
    "ThreadBound",
    "WebhookSink",
    "default_sinks",
]


@dataclass(frozen=True)
class Recorded:
    """A delivery a `RecordingSink` took, and the bytes the real sink would have sent."""

    delivery: Delivery
    rendered: bytes


class RecordingSink:
    """Keeps deliveries in memory after rendering them as their channel's sink would."""

    def __init__(self, sender: str = "mu@localhost") -> None:
        self.sender = sender
        self._lock = threading.Lock()
        self._records: list[Recorded] = []

    def deliver(self, delivery: Delivery, timeout: float) -> None:
        """Render (raising as the real sink would on bad input) and record."""
        try:
            data = render.rendered(delivery, self.sender, now=time.time())
        except ValueError as exc:
            raise DeliveryError(str(exc)) from None
        with self._lock:
            self._records.append(Recorded(delivery, data))

    @property
    def records(self) -> tuple[Recorded, ...]:
        """Everything recorded so far, in order."""
        with self._lock:
            return tuple(self._records)

    def deliveries(self) -> tuple[Delivery, ...]:
        """The deliveries recorded so far, in order."""
        return tuple(r.delivery for r in self.records)


def default_sinks(config: DeliveryConfig) -> dict[str, Sink]:
    """The sink of every configured channel: smtp and webhook when configured, ledger always
    (an action naming an unconfigured ledger then fails with a clear error)."""
    sinks: dict[str, Sink] = {"ledger": LedgerSink(config.ledgers)}
    if config.smtp is not None:
        sinks["smtp"] = SmtpSink(config.smtp)
    if config.webhook is not None:
        sinks["webhook"] = WebhookSink(config.webhook)
    return sinks
