"""`mu serve`: the decision log, the outbox and its workers, and uvicorn, started and
stopped in order.

Start: read the configuration, authorise the runtime key (checkpoints are
evidence, so a key without the `runtime` role never signs one), refuse a log
whose end was cut off, open the log (recovering and signing over a crash),
start the delivery process (`delivery.py`: it follows the log from where the
outbox stopped, so a crash loses no action), load and verify TARGET's
release, then serve. Stop (SIGTERM or Ctrl-C, handled by uvicorn): finish the
requests in flight, write the shutdown checkpoint, stop the delivery process.

The release is checked on a thread of its own every `reload_seconds`, so a
deploy's switch is picked up without a restart and verification never runs
on the event loop.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from mu.generator.decisionlog import (
    LogVerdict,
    LogWriter,
    checkpoint_signer,
    read_records,
    verify_log,
)
from mu.generator.errors import CheckFailed, InputError
from mu.generator.layout import Layout
from mu.generator.outbox import Outbox, OutboxStatus, check_sinks
from mu.generator.paths import state_directory
from mu.generator.provenance.trusthistory import load_history
from mu.generator.run.enforcers import release_actions
from mu.generator.service.app import Service, make_app
from mu.generator.service.config import ServiceConfig
from mu.generator.service.delivery import DeliveryProcess
from mu.generator.service.metrics import Metrics
from mu.generator.service.release import Releases

OUTBOX_FILE = "outbox.sqlite3"
_REFILL_BATCH = 1000


def default_log_dir(target: Path) -> Path:
    """`TARGET.decisions/`, beside TARGET (SPEC §10)."""
    target = Path(os.path.abspath(target))
    return target.parent / f"{target.name}.decisions"


def outbox_path(log_dir: Path) -> Path:
    """Where the outbox of the log in `log_dir` lives."""
    return log_dir / OUTBOX_FILE


@dataclass(frozen=True)
class ServeSummary:
    """What a run of the service did, for the line printed when it stops."""

    log_dir: Path
    last_seq: int
    release: str | None


def _refuse_a_shortened_log(log_dir: Path) -> None:
    """Refuse to serve on a log whose end was cut off while the service was down.

    The hash chain cannot show records removed from the very end; the outbox can,
    because it is filled only from durable records: the record at its high-water
    mark must still be in the log. Checked before the log is opened, so that no
    checkpoint is ever signed over a shortened log.
    """
    path = outbox_path(log_dir)
    if not path.exists():
        return
    outbox = Outbox.open(path)
    try:
        seen = outbox.high_water()
    finally:
        outbox.close()
    if seen <= 0:
        return
    first = next(iter(read_records(log_dir, after_seq=seen - 1)), None)
    if first is None or first.seq != seen:
        raise CheckFailed(
            f"the decision log `{log_dir}` no longer holds record {seen}, whose actions its "
            "outbox holds: records were removed from it",
            hint="restore the log from a backup; `mu decisions verify` shows what is left. "
            "The service does not append to a log that lost records",
        )


class _Watcher(threading.Thread):
    """Every `interval` seconds: checks TARGET (keeping the metrics' release current) and
    restarts the delivery process if it died."""

    def __init__(
        self, releases: Releases, metrics: Metrics, delivery: DeliveryProcess, interval: float
    ) -> None:
        super().__init__(name="mu-release-watcher", daemon=True)
        self._releases, self._metrics, self._interval = releases, metrics, interval
        self._delivery = delivery
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(min(self._interval, 1.0)):
            if self._releases.check(time.monotonic()):
                _show_release(self._releases, self._metrics)
            self._delivery.supervise()


def _show_release(releases: Releases, metrics: Metrics) -> None:
    current = releases.current
    metrics.set_release(current.digest if current else None, current.sequence if current else None)
    if current is not None:
        metrics.reloads.inc()


def serve(
    layout: Layout,
    target: Path,
    config: ServiceConfig,
    *,
    config_path: Path | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> ServeSummary:
    """Run the decision service until it is stopped; what it did.

    `config_path` is the file `config` was read from: the delivery process reads
    its tables from it. Raises `InputError` (exit 2) for a configuration that cannot
    serve at all:
    no runtime key, a log directory in the repository's data. A release that
    does not verify does not stop the service: it answers 503 until one does.
    """
    # Importing a release must not write bytecode into its immutable tree.
    sys.dont_write_bytecode = True
    # The event loop waits for the GIL whenever the log's writer or a worker thread
    # holds it; the default 5 ms switch interval would show in every tail latency.
    sys.setswitchinterval(0.0005)
    target = Path(os.path.abspath(target))
    if config.runtime_key is None:
        raise InputError(
            "the decision service needs a runtime key to sign its log's checkpoints",
            hint="set `runtime_key` in `[server]` of `--config`; the key must hold the "
            "`runtime` role (`mu trust add PUB --role runtime --identity NAME`)",
        )
    log_dir = state_directory(
        layout, config.log_dir or default_log_dir(target), what="the decision log"
    )
    history = load_history(layout, config.trust_root)
    signer = checkpoint_signer(layout, config.runtime_key, history)
    log_dir.mkdir(parents=True, exist_ok=True)

    delivery = DeliveryProcess(log_dir, config_path)
    writer = LogWriter(
        log_dir,
        signer=signer,
        checkpoint_every=config.log.checkpoint_every,
        checkpoint_seconds=config.log.checkpoint_seconds,
        segment_records=config.log.segment_records,
        # The delivery process follows the log; a committed batch only wakes it.
        on_commit=lambda _batch: delivery.wake(),
    )
    _refuse_a_shortened_log(log_dir)
    recovery = writer.open()
    say(f"mu serve: decision log `{log_dir}` at record {writer.last_seq} ({recovery})")
    # It starts where the outbox stopped: the actions of every logged decision arrive,
    # after a crash of either process too.
    delivery.start()

    releases = Releases(layout, target, config.trust_root)
    service: Service | None = None
    metrics = Metrics(
        outbox=lambda: _counts(log_dir),
        log_seq=lambda: writer.last_seq,
        healthy=lambda: service is not None and not service.problems(),
    )
    releases.check(time.monotonic())
    _show_release(releases, metrics)
    _say_release(releases, config, say)
    service = Service(releases, writer, delivery, metrics, config.max_body_bytes)
    watcher = _Watcher(releases, metrics, delivery, config.reload_seconds)
    watcher.start()
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                make_app(service),
                host=config.host,
                port=config.port,
                log_level="warning",
                access_log=False,
                server_header=False,
                proxy_headers=False,  # served directly; X-Forwarded-For is not trusted
                lifespan="off",
                timeout_graceful_shutdown=10,
            )
        )
        say(f"mu serve: listening on http://{config.host}:{config.port}")
        # uvicorn stops gracefully on SIGTERM, then raises the signal again for the
        # handler it found; a no-op one lets the shutdown below run and exit 0.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
        # Everything loaded so far (the compiler's modules, the release) lives as long as
        # the process: out of the collector's sight, a full collection no longer walks it
        # in the middle of a request.
        gc.collect()
        gc.freeze()
        server.run()
    finally:
        watcher.stopped.set()
        writer.close()  # the shutdown checkpoint, after the last answered decision
        delivery.stop()
    current = releases.current
    return ServeSummary(log_dir, writer.last_seq, current.digest if current else None)


def _say_release(releases: Releases, config: ServiceConfig, say: Callable[[str], None]) -> None:
    current = releases.current
    if current is not None:
        say(f"mu serve: release {current.digest[:12]} (receipt {current.sequence}) verified")
        # Deliveries that cannot succeed go to dead letters, not into the decision; say so
        # now rather than after the first failed attempt.
        for problem in check_sinks(release_actions(current.package), config.delivery):
            hint = f" ({problem.hint})" if problem.hint else ""
            say(f"warning: {problem.where} {problem.message}{hint}")
    elif releases.refusal is not None:
        say(f"mu serve: refusing to decide: {releases.refusal.message}")


def _counts(log_dir: Path) -> dict[str, int]:
    outbox = Outbox.open(outbox_path(log_dir))
    try:
        return outbox.counts()
    finally:
        outbox.close()


def _existing_outbox(log_dir: Path) -> Path:
    path = outbox_path(log_dir)
    if not path.is_file():
        raise InputError(
            f"there is no outbox at `{path}`",
            hint="name the served target (`--target DIR`) or its log (`--log DIR`); the "
            "service creates the outbox when it first starts",
        )
    return path


def actions_status(log_dir: Path) -> OutboxStatus:
    """The outbox of the service whose decision log is `log_dir` (`mu actions status`)."""
    outbox = Outbox.open(_existing_outbox(log_dir))
    try:
        return outbox.status()
    finally:
        outbox.close()


def actions_retry(log_dir: Path, keys: Sequence[str] | None) -> int:
    """Put dead letters (`keys`, or all) back in the queue; how many (`mu actions retry`).

    A running service's workers pick them up at their next poll.
    """
    outbox = Outbox.open(_existing_outbox(log_dir))
    try:
        return outbox.retry(keys)
    finally:
        outbox.close()


def verify_decisions(
    layout: Layout, log_dir: Path, *, trust_root: str | None, live: bool
) -> LogVerdict:
    """`mu decisions verify`: the log's chain and checkpoints under the trust root.

    The directory is checked first, so that a mistyped path is bad input (exit 2)
    whatever state the repository's trust root is in.
    """
    if not log_dir.is_dir():
        raise InputError(
            f"there is no decision log at `{log_dir}`",
            hint="pass the log directory of `mu serve` (default TARGET.decisions/)",
        )
    return verify_log(log_dir, load_history(layout, trust_root), live=live)
