"""Opening an outbox file: create it private, connect, and check it is what we wrote.

The file is input: a stray database, a newer format or a hostile file must
be refused before a query of ours runs on it. On open the schema SQLite
records (`sqlite_schema`: tables, indexes, and any trigger or view someone
added) must equal, statement for statement, the schema this module creates
— compared with a scratch in-memory copy — and `meta.format` must be
`FORMAT`. The tables are STRICT, so a value of the wrong type cannot be
written through them; `trusted_schema = OFF` keeps a schema from calling
functions with side effects, and a length limit bounds every value read.

`Gate` queues one process's writers of one outbox (see `store`).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError
from mu.generator.layout import shown_path
from mu.generator.outbox.status import DAMAGED_HINT, MAX_PAYLOAD, one_line

FORMAT = "mu-outbox/1"
BUSY_TIMEOUT_SECONDS = 5.0
MAX_VALUE_BYTES = MAX_PAYLOAD  # SQLite refuses any longer string or blob we read or write
SCHEMA = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "CREATE TABLE deliveries (key TEXT NOT NULL UNIQUE, idempotency_key TEXT NOT NULL, "
    "seq INTEGER NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, control_id TEXT NOT NULL, "
    "payload TEXT NOT NULL, state TEXT NOT NULL, waiting INTEGER NOT NULL, "
    "attempts INTEGER NOT NULL, total_attempts INTEGER NOT NULL, retries INTEGER NOT NULL, "
    "created_at REAL NOT NULL, next_at REAL NOT NULL, first_attempt_at REAL, "
    "last_attempt_at REAL, delivered_at REAL, dead_at REAL, last_error TEXT) STRICT",
    "CREATE TABLE dependencies (key TEXT NOT NULL, after TEXT NOT NULL, "
    "PRIMARY KEY (key, after)) WITHOUT ROWID, STRICT",
    # Ready deliveries by channel, oldest first: a worker claims a batch of one channel.
    "CREATE INDEX deliveries_ready ON deliveries (channel, next_at) WHERE state = 'pending' "
    "AND waiting = 0",
    "CREATE INDEX deliveries_state ON deliveries (state, channel)",
    "CREATE INDEX deliveries_recovered ON deliveries (delivered_at) "
    "WHERE state = 'delivered' AND total_attempts > 1",
    "CREATE INDEX dependencies_after ON dependencies (after)",
)
_NOT_AN_OUTBOX_HINT = (
    "pass the `outbox.sqlite3` of the service's decision log directory; " + DAMAGED_HINT
)


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """An autocommit connection to the checked outbox at `path` (created when `create`).

    Raises `InputError` if the file is missing (and not `create`), not a
    regular file, not an SQLite database, or not an outbox of this format.
    """
    shown = shown_path(path)
    try:
        info: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise InputError(
                f"there is no outbox at `{shown}`",
                hint="the service creates `outbox.sqlite3` in its decision log directory; "
                "pass that directory (`--log`)",
            ) from None
        info = None
    except OSError as exc:
        raise InputError(
            f"cannot read the outbox `{shown}`: {exc.strerror}",
            hint="check that the decision log directory is readable by this user",
        ) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"the outbox `{shown}` is not a regular file",
            hint="move it aside; the service recreates the outbox from its decision log",
        )
    if info is None:
        _create_private(path)
    try:
        db = sqlite3.connect(
            f"{Path(os.path.abspath(path)).as_uri()}?mode=rw",
            uri=True,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # the Outbox guards it with a lock
        )
    except sqlite3.Error as exc:
        raise unreadable(shown, exc) from None
    try:
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        db.execute("PRAGMA trusted_schema = OFF")
        db.execute("PRAGMA cell_size_check = ON")
        _prepare(db, shown, create)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # No commit checkpoints: one would land on the decision path's enqueue (and fsync
        # there); the supervisor's pulse checkpoints instead (`Outbox.checkpoint`).
        db.execute("PRAGMA wal_autocheckpoint = 0")
    except sqlite3.Error as exc:
        db.close()
        raise unreadable(shown, exc) from None
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, the write lock taken at once (so two writers cannot deadlock)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def unreadable(shown: str, exc: sqlite3.Error) -> InputError:
    """The error for an SQLite failure on the outbox `shown`."""
    reason = one_line(str(exc), 200)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in reason:
        return InputError(
            f"the outbox `{shown}` is busy: {reason}",
            hint=f"another process held it longer than {BUSY_TIMEOUT_SECONDS:g} s; try again",
        )
    return InputError(f"cannot use the outbox `{shown}`: {reason}", hint=DAMAGED_HINT)


def _prepare(db: sqlite3.Connection, shown: str, create: bool) -> None:
    """Check the schema; create it in an empty file when `create`."""
    if not _schema(db) and create:
        with write_transaction(db):
            if not _schema(db):  # another process may have created it meanwhile
                for statement in SCHEMA:
                    db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
                db.execute("INSERT INTO meta VALUES ('high_water', '0')")
    if _schema(db) != _expected_schema():
        raise InputError(
            f"`{shown}` is not an outbox of this version of mu (`{FORMAT}`)",
            hint=_NOT_AN_OUTBOX_HINT,
        )
    if db.execute("SELECT value FROM meta WHERE name = 'format'").fetchall() != [(FORMAT,)]:
        raise InputError(
            f"`{shown}` is not an outbox of this version of mu (`{FORMAT}`)",
            hint=_NOT_AN_OUTBOX_HINT,
        )


def _schema(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return sorted(
        db.execute(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema LIMIT 100"
        ).fetchall()
    )


def _expected_schema() -> list[tuple[Any, ...]]:
    """The schema as SQLite records it, from a scratch in-memory database."""
    scratch = sqlite3.connect(":memory:")
    try:
        for statement in SCHEMA:
            scratch.execute(statement)
        return _schema(scratch)
    finally:
        scratch.close()


def _create_private(path: Path) -> None:
    """Create an empty outbox file readable by its owner only (it names payees and mails)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # created by someone else meanwhile: the schema check decides
    except OSError as exc:
        raise InputError(
            f"cannot create the outbox `{shown_path(path)}`: {exc.strerror}",
            hint="the decision log directory must exist and be writable by the service",
        ) from None


class Gate:
    """Serialises one process's writers of one outbox file; urgent writers go first."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._busy = False
        self._urgent = 0  # urgent writers waiting

    @contextmanager
    def hold(self, *, urgent: bool) -> Iterator[None]:
        """Wait until no writer holds the gate (and, if not `urgent`, none urgent waits)."""
        with self._changed:
            self._urgent += urgent
            try:
                while self._busy or (self._urgent and not urgent):
                    self._changed.wait()
            finally:
                self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


_GATES: dict[str, Gate] = {}
_GATES_LOCK = threading.Lock()


def gate_of(path: Path) -> Gate:
    """The gate this process's writers of the outbox file `path` pass."""
    with _GATES_LOCK:
        return _GATES.setdefault(os.path.realpath(path), Gate())
