"""The durable outbox: an SQLite file in WAL mode that the service fills and the workers drain.

Tables (the exact schema is checked on open; a file with any other schema,
trigger or view is refused):

- `deliveries`: one row per delivery (`plan.Delivery`): its key, idempotency
  key, decision-log `seq`, channel, kind, control id, JSON payload, `state`
  (pending → inflight → delivered, or → pending again after a failure, or →
  dead after `max_attempts`), `waiting` (how many of its dependencies are not
  delivered yet), `attempts` in this round, `total_attempts`, `retries` (by
  `mu actions retry`), and the times `created_at`, `next_at`,
  `first_attempt_at`, `last_attempt_at`, `delivered_at`, `dead_at` with the
  `last_error`.
- `dependencies`: (key, after) pairs, SPEC §3's order. A delivery is *ready*
  when pending, due (`next_at <= now`) and every dependency is delivered; a
  dependency that is dead holds its dependants until it is retried and
  delivered — never delivered ahead of it.
- `meta`: the format; `high_water`, the greatest decision-log sequence
  number enqueued; `heartbeat`, the time and process id the running
  supervisor last wrote (`write_heartbeat`, read by `heartbeat()` from any
  process: is delivery alive?).

Durability: `synchronous=NORMAL` (no fsync per commit; a killed process
loses nothing, a power cut at most the last commits) is enough, because the
decision log is the source of truth: after a crash the service enqueues again
every record after `high_water()`, and `enqueue` is idempotent (INSERT OR
IGNORE, with the high water mark in the same transaction), so nothing is lost
and nothing doubles; a lost "delivered" mark means one repeat, which the
receivers drop by idempotency key. A delivery found `inflight` at start
belonged to a worker that died; `requeue_inflight` (called by
`Supervisor.start`, never by a status reader) makes it pending again.

Workers take deliveries in batches (`claim_batch`: up to N ready deliveries
of one channel in one transaction) and record their results in one
(`finish`): two short write transactions per batch, not per delivery.

Several connections may use one file at once (each worker has its own, and
`mu actions status|retry` runs in another process while the service runs):
WAL lets readers proceed under a writer. Writers of one process queue at a
gate (`schema.Gate`) where the decision path's `enqueue` goes first, so it waits for
at most one worker's short transaction and never sleeps in SQLite's busy
handler; other processes queue in `busy_timeout`. Claiming reads candidates
without a lock, then takes them with a guarded UPDATE, so idle workers never
take the write lock. No connection checkpoints the WAL on commit (that would
land on the decision path); `checkpoint()` does, called by the supervisor,
and keeps the WAL from growing past about `WAL_LIMIT_BYTES`.
Every error of SQLite becomes an `InputError` with a hint.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import InputError
from mu.generator.layout import shown_path
from mu.generator.outbox import reading, schema
from mu.generator.outbox import status as st
from mu.generator.outbox.config import CHANNELS
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.reading import Claim

__all__ = ["Claim", "Outbox", "Outcome"]

WAL_LIMIT_BYTES = 32 * 1024 * 1024  # a write-ahead log beyond this is emptied by `checkpoint`
_CLAIM_TRIES = 8  # other workers may win every row we picked; pick again this often
_CHUNK = 500  # rowids per statement (SQLite allows some thousands of parameters)
# A delivery key, or an idempotency key: the range of its delivery keys, then exactly.
_NAMED = "key = ? OR (key > ? AND key < ? AND idempotency_key = ?)"
# Dependencies of delivery `?` that are not delivered (or not in the outbox at all).
_UNDELIVERED = (
    "SELECT 1 FROM dependencies p LEFT JOIN deliveries q ON q.key = p.after "
    "WHERE p.key = {key} AND (q.state IS NULL OR q.state != 'delivered')"
)
_RECOUNT = (
    "UPDATE deliveries SET waiting = (SELECT COUNT(*) FROM ("
    + _UNDELIVERED.format(key="deliveries.key") + ")) WHERE key = ?"
)
# Ready deliveries of one channel, oldest first (`waiting` is a cached count; the join checks).
_READY = (
    "SELECT rowid FROM deliveries d INDEXED BY deliveries_ready "
    "WHERE channel = ? AND state = 'pending' AND waiting = 0 AND next_at <= ? "
    f"AND NOT EXISTS ({_UNDELIVERED.format(key='d.key')}) ORDER BY next_at LIMIT ?"
)
_TAKE = (
    "UPDATE deliveries SET state = 'inflight', attempts = attempts + 1, "
    "total_attempts = total_attempts + 1, "
    "first_attempt_at = coalesce(first_attempt_at, ?), last_attempt_at = ? "
    "WHERE rowid IN ({rowids}) AND +state = 'pending' AND waiting = 0 AND next_at <= ? "
    f"RETURNING {reading.COLUMNS}"
)
# In `rowid IN (...) AND +state = ...`, the unary plus keeps SQLite from the state index: it
# would walk every pending delivery to find the few listed, where rowids find them at once.


@dataclass(frozen=True)
class Outcome:
    """How the attempt of a claimed delivery ended, for `Outbox.finish`."""

    rowid: int
    error: str | None = None  # None: delivered
    retry_at: float | None = None  # after an error: pending again from then; None: dead
    attempted: bool = True  # False: handed back untried (its worker stopped first)


class Outbox:
    """One connection to the outbox file; thread-safe (one lock), cheap to open per thread."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._shown = shown_path(path)
        self._db = connection
        self._lock = threading.Lock()
        self._gate = schema.gate_of(path)

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Outbox:
        """Open the outbox at `path`, creating the file and its schema if `create`.

        Raises `InputError` if the file is missing (and not `create`), not a
        regular file, not an SQLite database, or not an outbox of this format.
        """
        return cls(path, schema.connect(path, create=create))

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ writing

    def enqueue(self, deliveries: Iterable[Delivery], high_water: int, *,
                now: float | None = None) -> None:
        """Add `deliveries` (those already present are left as they are) and raise the high
        water mark to `high_water`, in one transaction: idempotent, so a replay after a crash
        adds only what is missing."""
        now = time.time() if now is None else now
        rows = list(deliveries)
        with self._guard(), self._write(urgent=True):
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (key, idempotency_key, seq, channel, kind, "
                "control_id, payload, state, waiting, attempts, total_attempts, retries, "
                "created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, 0, 0, ?, ?)",
                [
                    (d.key, d.idempotency_key, d.seq, d.channel, d.kind, d.control_id,
                     d.payload_json(), now, now)
                    for d in rows
                ],
            )
            dependent = [d for d in rows if d.after]
            self._db.executemany(
                "INSERT OR IGNORE INTO dependencies (key, after) VALUES (?, ?)",
                [(d.key, after) for d in dependent for after in d.after],
            )
            self._db.executemany(_RECOUNT, [(d.key,) for d in dependent])
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('high_water', ?) ON CONFLICT (name) "
                "DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS "
                "INTEGER)) AS TEXT)",
                (str(high_water),),
            )

    def claim(self, *, now: float | None = None) -> Claim | None:
        """Take the oldest ready delivery of the first channel with any (`claim_batch` of
        one). None when nothing is ready."""
        claims = self.claim_batch(1, now=now)
        return claims[0] if claims else None

    def claim_batch(self, limit: int, *, channels: Sequence[str] = CHANNELS, share: int = 1,
                    now: float | None = None) -> list[Claim]:
        """Take up to `limit` ready deliveries (pending, due, every dependency delivered) of
        one channel, the first of `channels` that has any, in one transaction: each becomes
        `inflight` with one more attempt. Oldest first; empty when nothing is ready.

        `share` is how many workers share the ready deliveries: of the oldest `limit * share`
        ready ones a `share`-th is taken (at least one; which slice, at random), so a short
        queue is spread over the workers instead of lining up behind one, and workers
        claiming at the same time seldom pick the same rows.
        """
        now = time.time() if now is None else now
        limit, share = max(1, limit), max(1, share)
        with self._guard():
            for _ in range(_CLAIM_TRIES):
                found: list[int] = []
                for channel in channels:
                    found = [r for (r,) in self._db.execute(_READY, (channel, now,
                                                                     limit * share))]
                    if found:
                        break
                else:
                    return []
                # One of the `share` slices, at random: neighbours share pages, so a batch
                # writes few of them.
                take = min(limit, -(-len(found) // share))
                first = take * random.randrange(-(-len(found) // take))
                order = {rowid: n for n, rowid in enumerate(found[first:first + take])}
                with self._write():
                    rows = self._db.execute(
                        _TAKE.format(rowids=", ".join("?" * len(order))),
                        (now, now, *order, now),
                    ).fetchall()
                if rows:  # read and checked after the commit, not holding the write lock
                    claims = reading.claimed(self._db, self._shown, rows)
                    return sorted(claims, key=lambda c: order.get(c.rowid, 0))
        return []

    def finish(self, outcomes: Sequence[Outcome], *, now: float | None = None) -> None:
        """Record how the attempts of claimed rows ended, in one transaction: a delivered
        row gets its `delivered_at` and its dependants stop waiting for it; a failed one is
        pending again from its `retry_at`, or a dead letter (with its time and error) when
        that is None; one not attempted is pending again as it was before its claim. A row
        that is no longer `inflight` is left as it is."""
        now = time.time() if now is None else now
        tried = [o for o in outcomes if o.attempted]
        delivered = [o.rowid for o in tried if o.error is None]
        failed = [
            (now if o.retry_at is None else o.retry_at, st.one_line(o.error), o.rowid)
            for o in tried if o.error is not None
        ]
        dead = [o.retry_at is None for o in tried if o.error is not None]
        with self._guard(), self._write():
            self._db.executemany(
                "UPDATE deliveries SET state = 'pending', attempts = attempts - 1, "
                "total_attempts = total_attempts - 1, first_attempt_at = CASE WHEN "
                "total_attempts > 1 THEN first_attempt_at END WHERE rowid = ? AND state = "
                "'inflight' AND attempts > 0 AND total_attempts > 0",
                [(o.rowid,) for o in outcomes if not o.attempted],
            )
            keys: list[tuple[str]] = []
            for first in range(0, len(delivered), _CHUNK):
                chunk = delivered[first:first + _CHUNK]
                keys += self._db.execute(
                    "UPDATE deliveries SET state = 'delivered', delivered_at = ? WHERE rowid "
                    f"IN ({', '.join('?' * len(chunk))}) AND +state = 'inflight' RETURNING key",
                    (now, *chunk),
                ).fetchall()
            dependants: set[tuple[str]] = set()
            for first in range(0, len(keys), _CHUNK):
                done = [k for (k,) in keys[first:first + _CHUNK]]
                dependants.update(self._db.execute(
                    "SELECT key FROM dependencies WHERE after IN "
                    f"({', '.join('?' * len(done))})", done).fetchall())
            self._db.executemany(_RECOUNT, sorted(dependants))
            self._db.executemany(
                "UPDATE deliveries SET state = 'dead', dead_at = ?, last_error = ? "
                "WHERE rowid = ? AND state = 'inflight'",
                [f for f, is_dead in zip(failed, dead, strict=True) if is_dead],
            )
            self._db.executemany(
                "UPDATE deliveries SET state = 'pending', next_at = ?, last_error = ? "
                "WHERE rowid = ? AND state = 'inflight'",
                [f for f, is_dead in zip(failed, dead, strict=True) if not is_dead],
            )

    def succeed(self, rowid: int, *, now: float | None = None) -> None:
        """Record the delivery of a claimed row (`finish` of one)."""
        self.finish([Outcome(rowid)], now=now)

    def fail(self, rowid: int, error: str, *, retry_at: float | None,
             now: float | None = None) -> None:
        """Record a failed attempt of a claimed row: pending again from `retry_at`, or a dead
        letter (with its time and error) when `retry_at` is None (`finish` of one)."""
        self.finish([Outcome(rowid, error, retry_at)], now=now)

    def requeue_inflight(self, *, now: float | None = None) -> int:
        """Make every `inflight` delivery pending and due: its worker died (the service
        crashed). Only the process that runs the workers may call this. Returns how many."""
        now = time.time() if now is None else now
        with self._guard(), self._write():
            cursor = self._db.execute(
                "UPDATE deliveries SET state = 'pending', next_at = ? WHERE state = 'inflight'",
                (now,),
            )
            return cursor.rowcount

    def retry(self, keys: Sequence[str] | None, *, now: float | None = None) -> int:
        """Revive dead letters: every one (`keys` None), or those named by delivery key or by
        idempotency key (every channel of that action). They become pending and due, with a
        fresh round of attempts. Returns how many; an unknown key is an `InputError`."""
        now = time.time() if now is None else now
        revive = (
            "UPDATE deliveries SET state = 'pending', next_at = ?, attempts = 0, "
            "retries = retries + 1, dead_at = NULL WHERE state = 'dead'"
        )
        with self._guard(), self._write():
            if keys is None:
                return self._db.execute(revive, (now,)).rowcount
            count = 0
            for key in dict.fromkeys(keys):
                # An idempotency key names every channel of its action: the delivery keys
                # `<key>/<channel>`, found by a range of the key index ('0' follows '/').
                named = (key, f"{key}/", f"{key}0", key)
                known = self._db.execute(
                    f"SELECT 1 FROM deliveries WHERE {_NAMED} LIMIT 1", named
                ).fetchall()
                if not known:
                    raise InputError(
                        f"the outbox `{self._shown}` has no delivery `{st.printable(key, 120)}`",
                        hint="`mu actions status` lists the dead letters by key",
                    )
                count += self._db.execute(f"{revive} AND ({_NAMED})", (now, *named)).rowcount
            return count

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file: connections never do it on
        commit, so the supervisor calls this. Without waiting for readers or writers, unless
        the log has grown past `WAL_LIMIT_BYTES`: under steady writes a checkpoint never
        catches up with the last commit, so SQLite never starts the log over, and it would
        grow without end. Then this process's writers are held at the gate while the log is
        copied and emptied (readers and other processes are waited for, up to the busy
        timeout)."""
        try:
            size = os.stat(f"{self.path}-wal").st_size
        except OSError:
            size = 0
        if size <= WAL_LIMIT_BYTES:
            with self._guard():
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return
        with self._guard(), self._gate.hold(urgent=False):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def write_heartbeat(self, *, now: float | None = None, pid: int | None = None) -> None:
        """Record that the supervisor of process `pid` (default: this one) is alive now."""
        now = time.time() if now is None else now
        value = f"{now:.6f} {os.getpid() if pid is None else pid}"
        with self._guard(), self._write():
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('heartbeat', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (value,),
            )

    def clear_heartbeat(self, *, pid: int | None = None) -> None:
        """Remove the heartbeat if process `pid` (default: this one) wrote it: its supervisor
        stopped. Another process's heartbeat is left alone."""
        pid = os.getpid() if pid is None else pid
        with self._guard(), self._write():
            self._db.execute(
                "DELETE FROM meta WHERE name = 'heartbeat' AND value LIKE ?", (f"% {pid}",)
            )

    # ------------------------------------------------------------------ reading

    def high_water(self) -> int:
        """The greatest decision-log sequence number enqueued (0 when none)."""
        with self._guard():
            return reading.high_water(self._db, self._shown)

    def heartbeat(self) -> st.Heartbeat | None:
        """The running supervisor's last heartbeat (`Heartbeat.fresh()`: are its workers
        alive?), or None when none runs: never started, or stopped."""
        with self._guard():
            return reading.heartbeat(self._db, self._shown)

    def counts(self) -> dict[str, int]:
        """Deliveries by state, plus `held` (the pending ones waiting for a dependency)."""
        with self._guard(), self._read():
            return reading.counts(self._db)

    def status(self) -> st.OutboxStatus:
        """Counts by state and channel, dead letters, held and recovered deliveries (the
        newest `MAX_LISTED` of each), all read in one snapshot."""
        with self._guard(), self._read():
            return reading.status(self._db, self._shown)

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; turn any SQLite error into an `InputError`."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise schema.unreadable(self._shown, exc) from None

    @contextmanager
    def _write(self, *, urgent: bool = False) -> Iterator[None]:
        """One write transaction, after the process's other writers of this file: they queue
        at a gate here, woken at once, instead of in SQLite's busy handler, which sleeps in
        steps of milliseconds. `urgent` writers (the decision path's `enqueue`) go first."""
        with self._gate.hold(urgent=urgent), schema.write_transaction(self._db):
            yield

    @contextmanager
    def _read(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same snapshot."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")
