"""What a sink is: the interface the workers deliver through, and its error.

A `Sink` delivers one delivery or raises. A `BatchSink` also takes several
deliveries of its channel at once (`LedgerSink` appends them with one fsync)
and says, for each, whether it went through. A sink holding a connection per
thread (`SmtpSink`, `WebhookSink`) has `close_thread()`, which the supervisor
calls from a thread that stops delivering.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from mu.generator.outbox.plan import Delivery


class DeliveryError(Exception):
    """A delivery failed; the message says why, in the outbox's words."""


class Sink(Protocol):
    """Delivers one delivery within about `timeout` seconds, or raises."""

    def deliver(self, delivery: Delivery, timeout: float) -> None: ...


@runtime_checkable
class BatchSink(Protocol):
    """A sink that also delivers several deliveries of its channel in one go."""

    def deliver(self, delivery: Delivery, timeout: float) -> None: ...

    def deliver_many(
        self, deliveries: Sequence[Delivery], timeout: float
    ) -> list[Exception | None]:
        """Deliver all, within about `timeout` seconds in all; for each delivery (in order)
        None when it went through, else the error. Raising fails every one of them."""
        ...


@runtime_checkable
class ThreadBound(Protocol):
    """A sink keeping a connection per thread."""

    def close_thread(self) -> None:
        """Close the calling thread's connection, if it has one (idempotent)."""
        ...


def secret(variable: str, what: str) -> str:
    """The value of the environment variable `variable`, holding the `what`."""
    value = os.environ.get(variable)
    if not value:
        raise DeliveryError(f"the environment variable `{variable}` holding the {what} is not set")
    return value
