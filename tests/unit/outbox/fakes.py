"""Fake sinks and helpers for the Supervisor's tests (`test_workers`, `test_batches`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mu.generator.outbox import Outbox, Supervisor, deliveries_for
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.sinks import DeliveryError, Sink
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config


class Journal:
    """When each sink took each delivery, across sinks (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[float, str, str]] = []  # (time, key, "ok" | error)

    def add(self, key: str, what: str) -> None:
        with self.lock:
            self.events.append((time.monotonic(), key, what))

    def delivered(self) -> list[str]:
        with self.lock:
            return [key for _, key, what in self.events if what == "ok"]

    def tries(self, key: str) -> list[float]:
        with self.lock:
            return [t for t, k, _ in self.events if k == key]


class FakeSink:
    """Fails the first `failures` attempts of each delivery, optionally sleeping first."""

    def __init__(self, journal: Journal, *, failures: int = 0, sleep: float = 0.0) -> None:
        self.journal = journal
        self.failures = failures
        self.sleep = sleep
        self.seen: dict[str, int] = {}

    def deliver(self, delivery: Delivery, timeout: float) -> None:
        time.sleep(self.sleep)
        n = self.seen[delivery.key] = self.seen.get(delivery.key, 0) + 1
        if n <= self.failures:
            self.journal.add(delivery.key, f"fail {n}")
            raise DeliveryError(f"refused (try {n})")
        self.journal.add(delivery.key, "ok")


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def start(path: Path, running: list[Supervisor], sinks: dict[str, Sink], **delivery: object
          ) -> Supervisor:
    options: dict[str, object] = {"workers": 2, "timeout_seconds": 1.0, "max_attempts": 5,
                                  "backoff_seconds": 0.05, "backoff_max_seconds": 0.2}
    options.update(delivery)
    supervisor = Supervisor(path, config(**options), sinks)  # type: ignore[arg-type]
    supervisor.start()
    running.append(supervisor)
    return supervisor


def enqueue(path: Path, supervisor: Supervisor, *actions: Mapping[str, object],
            decision_id: str = "d-1") -> list[Delivery]:
    deliveries = deliveries_for(Record(decision_id=decision_id, actions=actions),
                                supervisor.config)
    box = Outbox.open(path)
    box.enqueue(deliveries, 1)
    box.close()
    supervisor.wake()
    return deliveries


class BatchFake(FakeSink):
    """A FakeSink that also takes batches, noting their sizes."""

    def __init__(self, journal: Journal, **options: float) -> None:
        super().__init__(journal, **options)  # type: ignore[arg-type]
        self.batches: list[int] = []

    def deliver_many(self, deliveries: Sequence[Delivery], timeout: float
                     ) -> list[Exception | None]:
        self.batches.append(len(deliveries))
        out: list[Exception | None] = []
        for delivery in deliveries:
            try:
                self.deliver(delivery, timeout)
                out.append(None)
            except DeliveryError as exc:
                out.append(exc)
        return out


def enqueue_many(path: Path, supervisor: Supervisor, count: int,
                 *actions: Mapping[str, object]) -> None:
    box = Outbox.open(path)
    for n in range(1, count + 1):
        record = Record(decision_id=f"d-{n}", seq=n, actions=actions or (LEDGER, NOTIFY))
        box.enqueue(deliveries_for(record, supervisor.config), n)
    box.close()
    supervisor.wake()
