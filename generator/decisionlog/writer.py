"""`LogWriter`: appends decisions to the log, group-committed, before they are answered.

One writer thread owns the files. It blocks for one entry, drains every entry
queued meanwhile (at most `MAX_BATCH`), gives each its `seq`, `decision_id`,
time and `prev`, writes the whole batch with one `write` and one `fdatasync`,
then calls `on_commit(batch)` (the service fills its outbox there), then
resolves the futures: an answer never precedes the durable record. A failed
write, fsync or `on_commit` fails every future of the batch and every queued
one with `LogClosed`, and the writer stops for good (`alive` is False): lines
of that batch may be in the file although no one was answered.

Checkpoints (with a `CheckpointSigner`): after every `checkpoint_every`
decision records, after `checkpoint_seconds` with new records, as the last line
of a full segment (`rotation`: after `segment_records` lines the next line goes
to the next file, the chain going on across files), in `close()` (`shutdown`)
and in `open()` after an unclean stop (`recovery`). Without a signer the log is
chained all the same but never checkpointed (tests, development):
`verify_log` then reports every record uncovered.

`open()` recovers: a cut last line (a write the crash interrupted; never
answered) is truncated away, the chain of the last segment is checked from the
line before it, and a log that did not end on a `shutdown` checkpoint gets a
signed `recovery` checkpoint saying what was found. A tail whose chain is
broken is refused (`CheckFailed`): the service never appends to a log someone
changed. An exclusive lock (`writer.lock`) keeps a second writer out.
"""

from __future__ import annotations

import fcntl
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from mu.generator.decisionlog.checkpoint import CheckpointSigner
from mu.generator.decisionlog.codec import (
    GENESIS_PREV,
    Committed,
    Entry,
    check_entry,
    checkpoint_line,
    decision_line,
    genesis_line,
    line_hash,
    now,
)
from mu.generator.decisionlog.recovery import (
    Recovery,
    broken,
    cut_back,
    fsync_dir,
    scan_tail,
    sync,
)
from mu.generator.decisionlog.segments import Listing, list_segments, segment_name, segments_dir
from mu.generator.errors import CheckFailed, Problem

MAX_BATCH = 1024  # entries per write: bounds a batch's latency and its memory
LOCK_NAME = "writer.lock"
_WRITE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class LogClosed(CheckFailed):
    """The log takes no more records: it was closed, never opened, or a write failed."""


class LogWriter:
    """The one writer of a decision log directory (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        signer: CheckpointSigner | None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 10.0,
        segment_records: int = 100_000,
        on_commit: Callable[[Sequence[Committed]], None] | None = None,
    ) -> None:
        if checkpoint_every < 1 or segment_records < 1 or not checkpoint_seconds > 0:
            raise ValueError("checkpoint_every, checkpoint_seconds and segment_records must be > 0")
        self.directory = directory
        self._signer = signer
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._segment_records = segment_records
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._state = "new"  # new → open → closing → closed; or failed
        self._thread: threading.Thread | None = None
        self._lock_fd = -1
        self._fd, self._fd_segment = -1, 0
        self._pending: list[tuple[int, bytes]] = []
        self._reset()
        self.failure: BaseException | None = None

    def _reset(self) -> None:
        """The state of an empty log (before `open`, and after a failed one)."""
        self._log_id = ""
        self._seq, self._prev, self._durable = -1, GENESIS_PREV, -1
        self._decisions = self._since = 0  # decision records: all, since the last checkpoint
        self._checkpoint_at = time.monotonic()
        self._segment, self._segment_lines = 1, 0
        self._pending.clear()

    @property
    def alive(self) -> bool:
        """Whether records are being accepted and written."""
        thread = self._thread
        return self._state == "open" and thread is not None and thread.is_alive()

    @property
    def last_seq(self) -> int:
        """The last durable record's seq (-1 before `open`)."""
        return self._durable

    @property
    def log_id(self) -> str:
        """The id of the log (`""` before `open`)."""
        return self._log_id

    def open(self) -> Recovery:
        """Create or recover the log, then start the writer thread; what was found."""
        with self._lock:
            if self._state != "new":
                raise LogClosed(
                    "this decision log writer was already opened",
                    hint="open a log once; a second service on the same log is refused",
                )
            self._state = "opening"
        try:
            segments_dir(self.directory).mkdir(parents=True, exist_ok=True, mode=0o750)
            self._take_lock()
            listing = list_segments(self.directory)
            recovery = self._recover(listing) if listing.segments else self._create()
        except BaseException:
            self._release()
            self._reset()
            self._state = "new"
            raise
        self._thread = threading.Thread(target=self._run, name="mu-decision-log", daemon=True)
        self._state = "open"
        self._thread.start()
        return recovery

    def submit(self, entry: Entry) -> Future[Committed]:
        """Queue `entry`; the future resolves once its record is durable (and `on_commit`
        ran), or fails with `LogClosed`. `ValueError` at once for an entry that breaks
        its contract (see `Entry`): that is a bug of the caller, not of the log."""
        transaction = check_entry(entry)
        future: Future[Committed] = Future()
        future.set_running_or_notify_cancel()  # a record cannot be cancelled
        with self._lock:
            if self._state != "open":
                future.set_exception(
                    LogClosed(
                        f"the decision log is {self._state}",
                        hint="the service answers 503 until it is restarted on a writable log",
                    )
                )
                return future
            self._queue.put((entry, transaction, future))
        return future

    def close(self) -> None:
        """Write what is queued, sign a shutdown checkpoint, fsync, stop (idempotent)."""
        with self._lock:
            if self._state == "open":
                self._state = "closing"
                self._queue.put(None)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            if self._state == "closing":
                self._state = "closed"
        self._release()

    # --- opening ---------------------------------------------------------------------

    def _take_lock(self) -> None:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CheckFailed(
                f"another process is writing the decision log `{self.directory}`",
                hint="stop the other `mu serve`, or give this one its own `--log` directory",
            ) from None
        self._lock_fd = fd

    def _release(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1

    def _create(self, dropped: int = 0) -> Recovery:
        # The log id only tells logs apart; it is never hashed into generated artefacts.
        self._log_id = os.urandom(8).hex()
        self._add(genesis_line(self._log_id, now()))
        self._flush()
        fsync_dir(self.directory)
        fsync_dir(self.directory.resolve().parent)
        return Recovery(self._log_id, True, True, 0, 0, 1, None, 0, dropped, None)

    def _recover(self, listing: Listing) -> Recovery:
        tail = scan_tail(self.directory, listing)
        scan = tail.scan
        last_number = max(listing.segments)
        path = listing.segments[last_number]
        if tail.dropped:
            cut_back(path, tail.good)
        if scan.last is None:  # segment 1, alone, never received its genesis line
            if last_number != 1:
                raise broken(self.directory, [Problem(f"`{path.name}`", "holds no record")])
            return self._create(tail.dropped)
        assert scan.log_id is not None and scan.decisions is not None
        self._log_id = scan.log_id
        self._seq = self._durable = scan.next_seq - 1
        self._prev, self._decisions = scan.prev, scan.decisions
        self._segment, self._segment_lines = last_number, tail.lines
        last = scan.last
        ended = last.get("reason") if last.get("kind") == "checkpoint" else None
        if ended == "rotation" and tail.lines:
            self._segment, self._segment_lines = last_number + 1, 0
        uncovered = self._since = scan.decisions - (scan.covered_decisions or 0)
        uncovered_from = scan.covered_line + 1 if scan.covered_line < self._seq else None
        clean = ended == "shutdown" and not tail.dropped
        written = None
        if not clean and self._signer is not None:
            found = {
                "uncovered_from": uncovered_from,
                "uncovered_records": uncovered,
                "dropped_bytes": tail.dropped,
            }
            self._add_checkpoint("recovery", found)
            self._flush()
            written = self._seq
        return Recovery(
            self._log_id,
            False,
            clean,
            self._seq,
            self._decisions,
            self._segment,
            uncovered_from,
            uncovered,
            tail.dropped,
            written,
        )

    # --- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        batch: list[tuple[Entry, Any, Future[Committed]]] = []
        try:
            stop = False
            while not stop:
                batch = []
                item = self._wait()
                if item is _TIMEOUT:
                    self._add_checkpoint("interval")
                    self._flush()
                    continue
                while item is not None and item is not _TIMEOUT:
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = _TIMEOUT
                stop = item is None
                self._commit(batch)
            batch = []
            if self._signer is not None:
                self._add_checkpoint("shutdown")
                self._flush()
        except BaseException as exc:  # the log is unusable: say so to everyone waiting
            self._fail(exc, batch)

    def _wait(self) -> Any:
        """The next queued item, or `_TIMEOUT` when an interval checkpoint is due first."""
        if self._signer is None or not self._since:
            return self._queue.get()
        left = self._checkpoint_at + self._seconds - time.monotonic()
        try:
            return self._queue.get(timeout=max(left, 0.0)) if left > 0 else _TIMEOUT
        except queue.Empty:
            return _TIMEOUT

    def _commit(self, batch: list[tuple[Entry, Any, Future[Committed]]]) -> None:
        stamp = now()
        done = []
        for entry, transaction, future in batch:
            done.append((self._add_decision(entry, transaction, stamp), future))
        if (
            self._signer is not None
            and self._since
            and time.monotonic() - self._checkpoint_at >= self._seconds
        ):
            self._add_checkpoint("interval")
        self._flush()
        if self._on_commit is not None and done:
            self._on_commit([record for record, _ in done])
        for record, future in done:
            future.set_result(record)

    def _fail(self, exc: BaseException, batch: list[tuple[Entry, Any, Future[Committed]]]) -> None:
        self.failure = exc
        error = LogClosed(
            f"the decision log `{self.directory}` could not be written: {exc}",
            hint="check the disk and the directory's permissions; starting the service "
            "again recovers the log",
        )
        error.__cause__ = exc
        with self._lock:
            self._state = "failed"
        waiting = [future for _, _, future in batch]
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                waiting.append(item[2])
        for future in waiting:
            if not future.done():
                future.set_exception(error)

    # --- lines -------------------------------------------------------------------------

    def _room(self) -> None:
        """Rotate before a line that would overfill the segment."""
        if self._segment_lines >= self._segment_records:
            if self._signer is not None:
                self._add_checkpoint("rotation")
            self._segment, self._segment_lines = self._segment + 1, 0

    def _add(self, line: bytes) -> None:
        self._pending.append((self._segment, line))
        self._seq += 1
        self._prev = line_hash(line)
        self._segment_lines += 1

    def _add_decision(self, entry: Entry, transaction: Any, stamp: str) -> Committed:
        self._room()
        seq = self._seq + 1
        decision_id = f"{self._log_id}-{seq}"
        tx_digest = line_hash(entry.transaction_json.encode("ascii"))
        line = decision_line(entry, seq, decision_id, stamp, self._prev, tx_digest)
        self._add(line)
        self._decisions += 1
        self._since += 1
        record = Committed(
            seq,
            decision_id,
            stamp,
            entry.release,
            tx_digest,
            transaction,
            entry.outcome,
            entry.reasons,
            entry.actions,
            self._prev,
        )
        if self._signer is not None and self._since >= self._every:
            self._add_checkpoint("interval")
        return record

    def _add_checkpoint(self, reason: str, found: dict[str, Any] | None = None) -> None:
        assert self._signer is not None
        if reason != "rotation":
            self._room()
        seq, stamp = self._seq + 1, now()
        predicate: dict[str, Any] = {
            "log_id": self._log_id,
            "seq": seq - 1,
            "decisions": self._decisions,
            "reason": reason,
            "time": stamp,
        }
        if found is not None:
            predicate["recovery"] = found
        envelope = self._signer.sign(predicate, self._log_id, self._prev)
        self._add(checkpoint_line(seq, self._prev, stamp, reason, envelope))
        self._since = 0
        self._checkpoint_at = time.monotonic()

    def _flush(self) -> None:
        """Write the pending lines, one write and one fdatasync per segment touched."""
        index = 0
        while index < len(self._pending):
            segment = self._pending[index][0]
            end = index
            while end < len(self._pending) and self._pending[end][0] == segment:
                end += 1
            self._write(segment, b"".join(line for _, line in self._pending[index:end]))
            index = end
        self._pending.clear()
        self._durable = self._seq

    def _write(self, segment: int, data: bytes) -> None:
        if segment != self._fd_segment:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            path = segments_dir(self.directory) / segment_name(segment)
            created = not path.exists()
            self._fd, self._fd_segment = os.open(path, _WRITE_FLAGS, 0o640), segment
            if created:
                fsync_dir(segments_dir(self.directory))
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        sync(self._fd)


_TIMEOUT = object()
