"""Attempts off the worker's thread: a runner thread per worker, watched with a timeout.

A worker hands a batch of deliveries of one channel to its `Runner` as one
`Run`: the runner delivers them one after another (or all at once through a
`BatchSink`), noting each result and when the current delivery started; the
worker watches, heartbeating, and gives up on a delivery that outlives the
channel's timeout. The sinks' own socket timeouts come first; this is the
backstop for a handler that ignores them. A runner stuck in a delivery is
abandoned, not killed — Python cannot — and the `Run` is cancelled, so
whatever that delivery does later is not recorded; the worker goes on with a
new runner.

A runner is the thread the sinks see, so a sink's per-thread connection
lives as long as the runner: when it retires it calls `on_exit` (the
supervisor closes its connections there).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.protocol import BatchSink, DeliveryError, Sink
from mu.generator.outbox.status import one_line


def describe(error: BaseException) -> str:
    """An attempt's error as recorded: a `DeliveryError`'s message, else type and message."""
    if isinstance(error, DeliveryError):
        return one_line(str(error))
    return one_line(f"{type(error).__name__}: {error}")


class Run:
    """Deliveries of one channel, run on a runner thread; what the worker watches.

    `errors[i]` and `seconds[i]` are valid for `i < finished`. `started` is when
    the delivery now running began (with `together`, the whole batch).
    """

    def __init__(self, sink: Sink, deliveries: Sequence[Delivery], timeout: float, *,
                 together: bool, stopping: threading.Event) -> None:
        self.sink = sink
        self.deliveries = deliveries
        self.timeout = timeout
        self.together = together and isinstance(sink, BatchSink)
        self._stopping = stopping
        self.errors: list[str | None] = [None] * len(deliveries)
        self.seconds = [0.0] * len(deliveries)
        self.finished = 0
        self.started = time.monotonic()
        self.running = self.together  # a delivery is under way (since `started`)
        self.cancelled = False
        self.lock = threading.Lock()
        self.done = threading.Event()

    def __call__(self) -> None:
        """Deliver (on the runner thread); stops early when cancelled or stopping."""
        try:
            if self.together:
                self._all_at_once()
            else:
                self._one_by_one()
        finally:
            self.done.set()

    def _one_by_one(self) -> None:
        for i, delivery in enumerate(self.deliveries):
            with self.lock:
                if self.cancelled or self._stopping.is_set():
                    return  # the rest were not attempted: the worker hands them back
                self.started = time.monotonic()
                self.running = True
            try:
                self.sink.deliver(delivery, self.timeout)
                error = None
            except BaseException as exc:  # recorded as the attempt's error, whatever it is
                error = describe(exc)
            with self.lock:
                if self.cancelled:
                    return  # too late: the worker recorded a timeout
                self.errors[i] = error
                self.seconds[i] = time.monotonic() - self.started
                self.finished = i + 1
                self.running = False

    def _all_at_once(self) -> None:
        assert isinstance(self.sink, BatchSink)
        try:
            found = self.sink.deliver_many(self.deliveries, self.timeout)
            if len(found) != len(self.deliveries):
                raise DeliveryError(f"the sink answered {len(found)} results for "
                                    f"{len(self.deliveries)} deliveries")
            errors = [None if e is None else describe(e) for e in found]
        except BaseException as exc:
            errors = [describe(exc)] * len(self.deliveries)
        with self.lock:
            if self.cancelled:
                return
            self.errors = errors
            self.seconds = [time.monotonic() - self.started] * len(errors)
            self.finished = len(errors)
            self.running = False

    def watch(self, beat: Callable[[], None]) -> bool:
        """Wait until the run ends, calling `beat` at least twice a second; False when the
        running delivery (the one at `finished`) outlived the timeout: the run is then
        cancelled."""
        while True:
            with self.lock:
                if self.done.is_set():
                    return True
                left = self.started + self.timeout - time.monotonic() if self.running else 0.01
                if left <= 0:
                    self.cancelled = True
                    return False
            self.done.wait(min(0.5, max(left, 0.001)))
            beat()


class Runner:
    """A daemon thread running jobs one at a time; `on_exit` runs on it when it retires."""

    def __init__(self, name: str, on_exit: Callable[[], None]) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._on_exit = on_exit
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                job()
        finally:
            self._on_exit()

    def submit(self, job: Callable[[], None]) -> None:
        """Queue `job` (it must not raise)."""
        self._jobs.put(job)

    def retire(self) -> None:
        """Exit once the current job (hung, perhaps) returns."""
        self._jobs.put(None)
