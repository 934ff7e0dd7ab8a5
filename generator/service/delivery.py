"""The delivery process: follows the decision log, fills the outbox, runs its workers.

`mu serve` decides on one core; delivery (building mails, SQLite, sockets) runs
in this child on the other, so a slow or failing sink never takes CPU or the
GIL from a decision. The child follows the log from the outbox's high-water
mark (`LogFollower`), so every logged decision's actions reach the outbox —
after a crash of either process too — and the deciding process never touches
SQLite.

The parent keeps the child's standard input open: a byte on it is a wake-up
(a batch was committed), end of file (the parent stopped or died) stops the
child after its workers finish their attempts. The parent restarts a child
that died; `/v1/health` is 503 while none runs.

`python -m mu.generator.service.delivery LOG_DIR [CONFIG]` is the child.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from mu.generator.child import CHILD_CWD, child_env, module_command
from mu.generator.decisionlog import LogFollower
from mu.generator.errors import MuError
from mu.generator.outbox import (
    HEARTBEAT_STALE_SECONDS,
    OUTBOX_FILE,
    Outbox,
    Supervisor,
    deliveries_for,
)
from mu.generator.service.config import load_config

POLL_SECONDS = 0.05  # the longest a delivery waits to be noticed without a wake-up
GATHER_SECONDS = 0.05  # after records were taken: the next batch gathers meanwhile
RESTART_SECONDS = 1.0  # before restarting a child that died; doubled while it keeps dying
RESTART_MAX_SECONDS = 60.0
STEADY_SECONDS = 60.0  # a child that ran this long died by accident, not by its start


class DeliveryProcess:
    """The parent's handle on the delivery child: start, wake, watch, restart, stop."""

    def __init__(self, log_dir: Path, config_path: Path | None) -> None:
        self._argv = module_command(
            "mu.generator.service.delivery", log_dir, *([config_path] if config_path else [])
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._pause = RESTART_SECONDS
        self._outbox = log_dir / OUTBOX_FILE
        self._beating = True
        self.restarts = 0

    def start(self) -> None:
        """Start the child (stdout and stderr are the service's own)."""
        with self._lock:
            self._proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.PIPE,
                cwd=CHILD_CWD,
                env=child_env(),
                start_new_session=True,  # Ctrl-C reaches the parent, which stops the child
            )
            assert self._proc.stdin is not None
            os.set_blocking(self._proc.stdin.fileno(), False)
            self._started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        """Whether the child is running and its workers beat (as of the last `supervise`)."""
        proc = self._proc
        return proc is not None and proc.poll() is None and self._beating

    def _check_heartbeat(self) -> None:
        """Read the workers' heartbeat from the outbox: a running child whose workers died
        or hang delivers nothing, so it is not alive."""
        proc = self._proc
        if proc is None or time.monotonic() - self._started_at < HEARTBEAT_STALE_SECONDS:
            self._beating = True  # still starting
            return
        try:
            outbox = Outbox.open(self._outbox, create=False)
            try:
                beat = outbox.heartbeat()
            finally:
                outbox.close()
        except MuError:
            beat = None
        self._beating = beat is not None and beat.pid == proc.pid and beat.fresh()

    def wake(self) -> None:
        """Tell the child a batch was committed; never blocks (a full pipe is awake enough)."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(OSError):  # a full pipe (BlockingIOError), a dead child
            os.write(proc.stdin.fileno(), b"w")

    def supervise(self) -> bool:
        """Restart the child if it died, backing off while it keeps dying (a damaged outbox
        or log: its error is on the service's standard error); True when it restarted."""
        self._check_heartbeat()
        proc = self._proc
        if proc is not None and proc.poll() is None and not self._beating:
            proc.kill()  # running but delivering nothing: a stuck child is replaced
            proc.wait()
        if self.alive:
            if time.monotonic() - self._started_at > STEADY_SECONDS:
                self._pause = RESTART_SECONDS
            return False
        if time.monotonic() - self._started_at < self._pause:
            return False
        self._pause = min(self._pause * 2, RESTART_MAX_SECONDS)
        self.restarts += 1
        self.start()
        return True

    def stop(self, timeout: float = 10.0) -> int | None:
        """Close the child's input (it stops after its attempts in flight); its exit code."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def _watch_parent(woken: threading.Event, stopped: threading.Event) -> None:
    """Wake-ups from the parent's pipe; its end of file means stop."""
    while True:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            stopped.set()
            woken.set()
            return
        woken.set()


def run(log_dir: Path, config_path: Path | None) -> int:
    """The child's loop until its parent goes: follow, enqueue, wake the workers."""
    # Deliveries are background work: when both compete for a core, decisions go first.
    os.nice(19)
    config = load_config(config_path).delivery
    path = log_dir / OUTBOX_FILE
    outbox = Outbox.open(path)
    follower = LogFollower(log_dir, after_seq=outbox.high_water())
    supervisor = Supervisor(path, config)
    supervisor.start()
    woken, stopped = threading.Event(), threading.Event()
    threading.Thread(target=_watch_parent, args=(woken, stopped), daemon=True).start()
    def take() -> bool:
        records = follower.poll()
        if records:
            deliveries = [d for r in records for d in deliveries_for(r, config)]
            outbox.enqueue(deliveries, high_water=records[-1].seq)
            supervisor.wake()
        return bool(records)

    try:
        while not stopped.is_set():
            if take():
                # Under load, gather a few hundred records per transaction: each commit
                # rewrites whole index pages into the WAL, and that write volume is what
                # the decision log's fdatasync waits behind on a shared disk.
                stopped.wait(GATHER_SECONDS)
            else:
                woken.wait(POLL_SECONDS)
                woken.clear()
        # The parent closed the log before it let go of us: take its last records, so
        # the outbox's high-water mark is the log's last decision (how a log cut short
        # while the service is down is found at the next start).
        while take():
            pass
    finally:
        supervisor.stop(timeout=10.0)
        outbox.close()
    return 0


def main(argv: list[str]) -> int:
    """Child entry: `LOG_DIR [CONFIG]`."""
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: delivery LOG_DIR [CONFIG]\n")
        return 2
    try:
        return run(Path(argv[0]), Path(argv[1]) if len(argv) == 2 else None)
    except MuError as exc:
        sys.stderr.write(f"mu serve (delivery): error: {exc.message}\nhint: {exc.hint}\n")
        return int(exc.code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
