"""The storage under `generator.cache`: one SQLite file, its secret, and the MAC of an entry.

Every function here may raise `sqlite3.Error` or `OSError`; `cache.Cache` turns
each into a miss. Nothing here decides what a failure means.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sqlite3
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DATABASE = "cache.sqlite"
SECRET = "secret"
SECRET_BYTES = 32
MAC_BYTES = 32
# How long a second build waits for another's write before it counts a miss.
BUSY_TIMEOUT_SECONDS = 2.0
# Keys per statement, well under SQLite's limit on bound parameters.
_CHUNK = 500
_MAC_DOMAIN = b"mu-cache-v1\x00"
_COLUMNS = "key, value, mac, size, used"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    mac BLOB NOT NULL,
    size INTEGER NOT NULL,
    used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used, size);
"""


@dataclass(frozen=True)
class Row:
    """One entry as read back: every field as SQLite gave it, not yet trusted."""

    key: object
    value: object
    mac: object
    size: object
    used: object


@dataclass(frozen=True)
class Secret:
    """The cache's MAC key, and whether it was made just now (old entries are then void)."""

    value: bytes
    fresh: bool


def mac(secret: bytes, key: str, value: bytes) -> bytes:
    """HMAC-SHA256 over (key, value), the key length-prefixed so no two pairs collide."""
    encoded = key.encode("utf-8", "surrogatepass")
    message = _MAC_DOMAIN + len(encoded).to_bytes(8, "big") + encoded + value
    return hmac.new(secret, message, hashlib.sha256).digest()


def authentic(secret: bytes, key: str, row: Row) -> bytes | None:
    """The row's value when the holder of `secret` stored it under `key`, else None: a wrong
    type, length or MAC (truncated, corrupted, planted or copied from another cache)."""
    value, tag = row.value, row.mac
    if (
        secret
        and isinstance(value, bytes)
        and isinstance(tag, bytes)
        and row.size == len(value)
        and len(tag) == MAC_BYTES
        and hmac.compare_digest(tag, mac(secret, key, value))
    ):
        return value
    return None


def companions(path: Path) -> tuple[Path, Path]:
    """SQLite's write-ahead log and shared-memory files of the database at `path`."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def make_private_directory(directory: Path) -> None:
    """Make `directory` (0700) if missing; refuse anything but a real directory there."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    if not stat.S_ISDIR(os.lstat(directory).st_mode):
        raise OSError(f"`{directory}` is not a directory (or is a symbolic link)")


def load_secret(directory: Path) -> Secret:
    """The cache's secret; made (0600, atomically) when missing or broken. Two builds
    racing to make it agree on the first one linked into place."""
    path = directory / SECRET
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(SECRET_BYTES + 1)
        if len(data) == SECRET_BYTES:
            return Secret(data, fresh=False)
        missing = False
    except FileNotFoundError:
        missing = True
    except OSError:
        missing = False  # a link or an unreadable file: replaced below
    secret = os.urandom(SECRET_BYTES)
    temporary = directory / f".{SECRET}.{os.getpid()}.{os.urandom(4).hex()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        if not missing:
            os.replace(temporary, path)  # replaces a link itself, never its target
            return Secret(secret, fresh=True)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return load_secret(directory)  # another build made it first: use theirs
        return Secret(secret, fresh=True)
    finally:
        temporary.unlink(missing_ok=True)


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the database: WAL, a busy timeout, the schema in place."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        # Temporary tables in memory: nothing of the cache is ever written outside it.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # a lost last write is just a miss
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.executescript(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _chunks(items: list[T]) -> Iterable[list[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(chunk: list[str]) -> str:
    return ",".join("?" * len(chunk))


def _rollback(conn: sqlite3.Connection) -> None:
    # No transaction left to undo: the error that brought us here is what counts.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def select(conn: sqlite3.Connection, keys: list[str]) -> list[Row]:
    """The stored rows among `keys`, read from one snapshot."""
    rows: list[Row] = []
    conn.execute("BEGIN")
    try:
        for chunk in _chunks(keys):
            query = f"SELECT {_COLUMNS} FROM entries WHERE key IN ({_marks(chunk)})"
            rows.extend(Row(*found) for found in conn.execute(query, chunk))
    except BaseException:
        _rollback(conn)
        raise
    conn.execute("COMMIT")
    return rows


def _delete(conn: sqlite3.Connection, keys: list[str]) -> None:
    for chunk in _chunks(keys):
        conn.execute(f"DELETE FROM entries WHERE key IN ({_marks(chunk)})", chunk)


def tidy(conn: sqlite3.Connection, bad: list[str], stale: list[str], now: int) -> None:
    """Delete broken entries and refresh the use time of old ones, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _delete(conn, bad)
        for chunk in _chunks(stale):
            query = f"UPDATE entries SET used = ? WHERE key IN ({_marks(chunk)})"
            conn.execute(query, [now, *chunk])
    except BaseException:
        _rollback(conn)
        raise
    conn.execute("COMMIT")


def clear(conn: sqlite3.Connection) -> None:
    """Delete every entry (they were made under a secret that is gone)."""
    conn.execute("DELETE FROM entries")


def insert(
    conn: sqlite3.Connection, rows: list[tuple[str, bytes, bytes, int, int]], limit: int
) -> bool:
    """Store (key, value, mac, size, used) rows in one transaction, then evict the least
    recently used beyond `limit` bytes of values; True once committed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", rows)
        evicted = _evict(conn, limit)
    except BaseException:
        _rollback(conn)
        raise
    conn.execute("COMMIT")
    if evicted:
        conn.execute("PRAGMA incremental_vacuum")  # give the freed pages back to the disk
    return True


def _evict(conn: sqlite3.Connection, limit: int) -> bool:
    """Delete the least recently used entries until the total is under 90% of `limit`."""
    (total,) = conn.execute("SELECT total(size) FROM entries").fetchone()
    if total <= limit:
        return False
    excess = total - limit * 9 // 10
    doomed: list[str] = []
    cursor = conn.execute("SELECT key, size FROM entries ORDER BY used, key")
    try:
        for key, size in cursor:
            if excess <= 0:
                break
            doomed.append(key)
            excess -= size
    finally:
        cursor.close()
    _delete(conn, doomed)
    return True
