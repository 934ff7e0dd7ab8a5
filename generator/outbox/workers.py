"""Supervised delivery: worker threads that drain the outbox through the sinks.

`Supervisor.start()` makes deliveries left `inflight` by a crashed run pending
again, then starts `workers` threads, each with its own connection to the
outbox, and a pulse thread. A worker claims a batch of up to `batch_size`
ready deliveries of one channel (pending, due, every dependency delivered:
SPEC §3) in one transaction, delivers them, and records every result in one
transaction:

- delivered: `delivered_at`, and the attempts it took (status shows a
  delivery that needed more than one as "delivered after N attempts, X s late");
- failed, attempts left: pending again at now + min(backoff_max,
  backoff * 2**(n-1)) * jitter, jitter uniform in [0.5, 1.0) so that
  deliveries failing together do not retry together;
- failed `max_attempts` times: a dead letter, with its time and error, until
  `mu actions retry`.

Workers prefer the channel the fewest of them are delivering on, so one slow
channel does not take every worker, and a short queue is shared out among
them (`Outbox.claim_batch`'s `share`). A batch runs on the worker's runner
thread (`attempts`): one delivery after another, each within the channel's
timeout, or, for a sink that takes batches (the ledger: one fsync), all at
once. A delivery outliving its timeout is recorded as timed out, its runner
abandoned, and the rest of the batch goes on on a new one; while `HUNG_LIMIT`
runners of one channel are still hung, further attempts on that channel fail
at once, so a dead mail server cannot pile up threads, and other channels
keep flowing. The network sinks keep a connection per runner thread.

Workers heartbeat after every claim and while waiting for an attempt;
`alive` is false once any worker has died or stopped heartbeating for
`STALE_SECONDS` (a lost or locked database). The pulse thread checkpoints the
outbox's WAL every `CHECKPOINT_SECONDS` and, every `HEARTBEAT_SECONDS` while
`alive`, writes the time and this process's id into the outbox (`Outbox.heartbeat()`), so a parent
process can tell that the workers of a child are alive; on `stop()` it
removes it. Workers wake on `wake()` (call it after each enqueue) and poll
every `POLL_SECONDS` for timed retries, for deliveries enqueued by another
process and for revivals by `mu actions retry`. Nothing here is on the
decision path.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import MuError
from mu.generator.outbox.attempts import Run, Runner
from mu.generator.outbox.config import CHANNELS, DeliveryConfig
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.protocol import Sink, ThreadBound
from mu.generator.outbox.sinks import default_sinks
from mu.generator.outbox.status import HEARTBEAT_SECONDS
from mu.generator.outbox.store import Claim, Outbox, Outcome

POLL_SECONDS = 0.2
STALE_SECONDS = 10.0  # above the outbox's busy timeout, so one slow lock is not a death
HUNG_LIMIT = 4  # abandoned, still-running attempts per channel before attempts fail fast
BATCH_SIZE = 64  # deliveries a worker claims and records per transaction
# A checkpoint copies the WAL into the database and fsyncs it: megabytes under load, and on
# ext4 the decision log's fdatasync waits behind them (one journal). Rarer checkpoints write
# each hot page once instead of every second, and stall a decision batch a tenth as often.
CHECKPOINT_SECONDS = 10.0
_PAUSE_SECONDS = 0.5  # after an outbox error, before trying again


@dataclass(frozen=True)
class Attempt:
    """One attempt as it ended, for an observer (metrics): `state` is what the delivery
    became (`delivered`, `pending` again, or `dead`)."""

    key: str
    channel: str
    attempt: int
    state: str
    error: str | None
    seconds: float


class _Worker:
    """One worker thread's state, read by `Supervisor.alive`."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.beat = time.monotonic()
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        self.runner: Runner | None = None  # runs this worker's attempts


class Supervisor:
    """Worker threads delivering from the outbox at `outbox_path` through `sinks`
    (by channel; default: the sinks `config` configures), `batch_size` at a time."""

    def __init__(
        self,
        outbox_path: Path,
        config: DeliveryConfig,
        sinks: Mapping[str, Sink] | None = None,
        *,
        on_attempt: Callable[[Attempt], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.outbox_path = outbox_path
        self.config = config
        self.sinks: Mapping[str, Sink] = default_sinks(config) if sinks is None else sinks
        self.on_attempt = on_attempt
        self.batch_size = max(1, batch_size)
        self.recovered_inflight = 0  # deliveries found inflight at start (a crashed run)
        self.pulse_error: str | None = None  # the pulse thread's last outbox error
        self._workers: list[_Worker] = []
        self._pulse: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wakeup = threading.Condition()
        self._generation = 0
        self._hung: dict[str, list[threading.Thread]] = {}
        self._load: Counter[str] = Counter()  # workers delivering on each channel now
        self._lock = threading.Lock()  # guards `_hung` and `_load`

    def start(self) -> None:
        """Recover the deliveries a crashed run left inflight, write the first heartbeat,
        then start the workers and the pulse.

        Raises `InputError` if the outbox cannot be opened or created.
        """
        if self._workers:
            raise RuntimeError("the supervisor was started already")
        outbox = Outbox.open(self.outbox_path, create=True)
        try:
            self.recovered_inflight = outbox.requeue_inflight()
            outbox.write_heartbeat()
        finally:
            outbox.close()
        for index in range(self.config.workers):
            worker = _Worker(index)
            worker.thread = threading.Thread(
                target=self._run, args=(worker,), name=f"mu-delivery-{index}", daemon=True
            )
            self._workers.append(worker)
            worker.thread.start()
        self._pulse = threading.Thread(target=self._beat, name="mu-delivery-pulse", daemon=True)
        self._pulse.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to finish the attempt under way and stop; wait up to `timeout`
        seconds in all. The rest of a batch is handed back, as it was; a delivery still in
        flight stays `inflight` and is retried at the next start."""
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + timeout
        threads = [w.thread for w in self._workers] + [self._pulse]
        for thread in threads:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """Tell idle workers that something was enqueued (cheap; call after each commit)."""
        with self._wakeup:
            self._generation += 1
            self._wakeup.notify_all()

    @property
    def alive(self) -> bool:
        """Whether every worker (and the pulse) runs, each worker having heartbeated in the
        last `STALE_SECONDS`."""
        if self._pulse is None or not self._pulse.is_alive():
            return False
        return self._workers_alive()

    @property
    def errors(self) -> list[str]:
        """The last outbox error of each worker that had one (why `alive` may be false)."""
        errors = [f"worker {w.index}: {w.error}" for w in self._workers if w.error]
        return errors + ([f"pulse: {self.pulse_error}"] if self.pulse_error else [])

    def backoff(self, attempt: int) -> float:
        """Seconds before the next try after failed attempt number `attempt` (1-based)."""
        c = self.config
        base = min(c.backoff_max_seconds, c.backoff_seconds * 2.0 ** min(attempt - 1, 60))
        return base * random.uniform(0.5, 1.0)

    def _workers_alive(self) -> bool:
        if not self._workers or self._stopping.is_set():
            return False
        now = time.monotonic()
        return all(
            w.thread is not None and w.thread.is_alive() and now - w.beat < STALE_SECONDS
            for w in self._workers
        )

    # ------------------------------------------------------------------ the pulse

    def _beat(self) -> None:
        """Checkpoint the WAL and write the heartbeat, every `HEARTBEAT_SECONDS`."""
        try:
            outbox = Outbox.open(self.outbox_path, create=False)
        except MuError as exc:
            self.pulse_error = exc.message
            return
        try:
            last_checkpoint = time.monotonic()
            while not self._stopping.wait(HEARTBEAT_SECONDS):
                try:
                    if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS:
                        outbox.checkpoint()
                        last_checkpoint = time.monotonic()
                    if self._workers_alive():
                        outbox.write_heartbeat()
                    self.pulse_error = None
                except MuError as exc:  # busy or damaged: the heartbeat goes stale
                    self.pulse_error = exc.message
            with contextlib.suppress(MuError):
                outbox.clear_heartbeat()
        finally:
            outbox.close()

    # ------------------------------------------------------------------ the workers

    def _run(self, worker: _Worker) -> None:
        try:
            outbox = Outbox.open(self.outbox_path, create=False)
        except MuError as exc:
            worker.error = exc.message
            return
        try:
            while not self._stopping.is_set():
                with self._wakeup:
                    seen = self._generation
                try:
                    claims = outbox.claim_batch(self.batch_size, channels=self._order(worker),
                                                share=self.config.workers)
                    worker.beat = time.monotonic()
                    if claims:
                        self._handle(worker, outbox, claims)
                        continue
                except MuError as exc:  # the outbox is busy or damaged: try again shortly
                    worker.error = exc.message
                    self._stopping.wait(_PAUSE_SECONDS)
                    continue
                with self._wakeup:
                    if self._generation == seen and not self._stopping.is_set():
                        self._wakeup.wait(POLL_SECONDS)
        except Exception as exc:  # a defect: this worker dies, and `alive` says so
            worker.error = f"{type(exc).__name__}: {exc}"
        finally:
            if worker.runner is not None:
                worker.runner.retire()
            outbox.close()

    def _order(self, worker: _Worker) -> list[str]:
        """The channels by preference: fewest workers on them first; ties differ by worker."""
        with self._lock:
            load = dict(self._load)
        n = len(CHANNELS)
        return sorted(CHANNELS, key=lambda c: (load.get(c, 0),
                                               (CHANNELS.index(c) - worker.index) % n))

    @contextlib.contextmanager
    def _on(self, channel: str) -> Iterator[None]:
        with self._lock:
            self._load[channel] += 1
        try:
            yield
        finally:
            with self._lock:
                self._load[channel] -= 1

    def _handle(self, worker: _Worker, outbox: Outbox, claims: Sequence[Claim]) -> None:
        outcomes = [Outcome(c.rowid, f"damaged outbox row: {c.problem}")
                    for c in claims if c.delivery is None]
        good = [(c, c.delivery) for c in claims if c.delivery is not None]
        attempts: list[Attempt] = []
        if good:
            channel = good[0][1].channel
            with self._on(channel):
                results = self._deliver(worker, channel, [d for _, d in good])
            now = time.time()
            for (claim, delivery), result in zip(good, results, strict=False):
                error, seconds = result
                if error is None:
                    outcome, state = Outcome(claim.rowid), "delivered"
                elif claim.attempt >= self.config.max_attempts:
                    outcome, state = Outcome(claim.rowid, error), "dead"
                else:
                    retry_at = now + self.backoff(claim.attempt)
                    outcome, state = Outcome(claim.rowid, error, retry_at), "pending"
                outcomes.append(outcome)
                attempts.append(Attempt(delivery.key, channel, claim.attempt, state, error,
                                        seconds))
            # Not attempted (the supervisor is stopping): handed back as they were.
            outcomes += [Outcome(c.rowid, attempted=False) for c, _ in good[len(results):]]
        self._record(worker, lambda: outbox.finish(outcomes))
        if self.on_attempt is not None:
            for attempt in attempts:
                with contextlib.suppress(Exception):  # an observer's defect must not stop us
                    self.on_attempt(attempt)

    def _record(self, worker: _Worker, write: Callable[[], None]) -> None:
        """Record a batch's results, trying again while the outbox is busy or failing: a
        result dropped would leave the delivery `inflight`, holding its dependants until the
        next start. Meanwhile the worker does not heartbeat, so `alive` turns false."""
        while True:
            try:
                write()
                return
            except MuError as exc:
                worker.error = exc.message
                if self._stopping.wait(_PAUSE_SECONDS):
                    return  # stopping: the rows stay inflight and are requeued at next start

    def _deliver(self, worker: _Worker, channel: str, deliveries: Sequence[Delivery]
                 ) -> list[tuple[str | None, float]]:
        """Attempt `deliveries` (all of `channel`) in order, each within the channel's
        timeout: (None when delivered, else the error; seconds) for each one attempted — all
        of them, unless the supervisor is stopping."""
        sink = self.sinks.get(channel)
        if sink is None:
            return [(f"no sink for the channel `{channel}` (is it configured?)", 0.0)
                    ] * len(deliveries)
        timeout = self.config.timeout_for(channel)
        results: list[tuple[str | None, float]] = []
        while len(results) < len(deliveries):
            rest = deliveries[len(results):]
            hung = self._still_hung(channel)
            if hung >= HUNG_LIMIT:
                error = (f"{hung} earlier attempts on `{channel}` are still running past "
                         "their timeout")
                return results + [(error, 0.0)] * len(rest)
            if worker.runner is None:
                worker.runner = Runner(f"mu-delivery-{worker.index}-attempt", self._close_thread)
            run = Run(sink, rest, timeout, together=len(rest) > 1, stopping=self._stopping)
            worker.runner.submit(run)
            in_time = run.watch(lambda: setattr(worker, "beat", time.monotonic()))
            results += zip(run.errors[:run.finished], run.seconds[:run.finished], strict=True)
            if in_time:
                return results  # complete, or cut short by a stop
            with self._lock:
                self._hung.setdefault(channel, []).append(worker.runner.thread)
            worker.runner.retire()
            worker.runner = None
            timed_out = (f"timed out after {timeout:g} s", timeout)
            # All at once, every one of them timed out; one by one, the one running did.
            results += [timed_out] * (len(rest) - run.finished if run.together else 1)
        return results

    def _still_hung(self, channel: str) -> int:
        with self._lock:
            alive = [t for t in self._hung.get(channel, []) if t.is_alive()]
            self._hung[channel] = alive
            return len(alive)

    def _close_thread(self) -> None:
        """Runs on a retiring runner thread: close the sinks' connections of that thread."""
        for sink in self.sinks.values():
            if isinstance(sink, ThreadBound):
                with contextlib.suppress(Exception):
                    sink.close_thread()
